"""The fake Mitake (三竹) SMS API: SmSend, and the delivery reports Mitake calls back with."""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from tests.fakes.loopback import LoopbackServer, Reply, form_fields

MITAKE_USERNAME = "54321678SMS"
MITAKE_PASSWORD = "mitake-password"
SMSEND_PATH = "/api/mtk/SmSend"
TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass(frozen=True, slots=True)
class MitakeSent:
    """One SMS Mitake took: the fields as posted, and the id it answered with."""

    msgid: str
    dstaddr: str
    smbody: str
    clientid: str | None
    response: str | None


def _answer(**fields: str) -> Reply:
    body = "[1]\n" + "".join(f"{key}={value}\n" for key, value in fields.items())
    return Reply(200, body.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"})


class FakeMitake(LoopbackServer):
    """Mitake's SmSend: checks the account and the number, sends a clientid once,
    answers as Mitake does, and fails on demand; `report` calls back as Mitake does."""

    def __init__(self, username: str = MITAKE_USERNAME, password: str = MITAKE_PASSWORD) -> None:
        super().__init__()
        self.username, self.password = username, password
        self._sent: list[MitakeSent] = []
        self._by_client: dict[str, MitakeSent] = {}
        self._failures: deque[str] = deque()
        self._ids = itertools.count(1010079522)
        self.calls = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SMSEND_PATH}?CharsetURL=UTF-8"

    def settings(self) -> dict[str, str]:
        """The settings that point a gateway or scheduler at this fake."""
        return {
            "mitake_username": self.username,
            "mitake_password": self.password,
            "mitake_api_url": self.api_url,
        }

    @property
    def sent(self) -> list[MitakeSent]:
        with self._cond:
            return list(self._sent)

    def fail_next(self, statuscode: str, *, times: int = 1) -> None:
        """Answer the next `times` sends with `statuscode` ("6", "e", or "500" for HTTP 500)."""
        with self._cond:
            self._failures.extend([statuscode] * times)

    def report(
        self,
        sent: MitakeSent,
        *,
        flag: str = "4",
        statusstr: str = "DELIVRD",
        url: str | None = None,
    ) -> httpx.Response:
        """Call the message's delivery-report address (or `url`) as Mitake does: a GET."""
        target = url or sent.response
        assert target is not None, "the message was sent without a report address"
        now = datetime.now(TAIPEI).strftime("%Y%m%d%H%M%S")
        params = {
            "msgid": sent.msgid,
            "dstaddr": sent.dstaddr,
            "dlvtime": now,
            "donetime": now,
            "statusstr": statusstr,
            "statuscode": "0",
            "StatusFlag": flag,
        }
        return httpx.get(target, params=params, timeout=10)

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> Reply:
        with self._cond:
            self.calls += 1
        if method != "POST" or urlsplit(path).path != SMSEND_PATH:
            return Reply(404, b"not found")
        fields = {key: values[0] for key, values in form_fields(body).items()}
        with self._cond:
            failure = self._failures.popleft() if self._failures else None
        if failure == "500":
            return Reply(500, b"Internal Server Error")
        if fields.get("username") != self.username or fields.get("password") != self.password:
            return _answer(statuscode="e", Error="帳號、密碼錯誤")
        if failure is not None:
            return _answer(statuscode=failure)
        if not re.fullmatch(r"09[0-9]{8}", fields.get("dstaddr", "")):
            return _answer(statuscode="v", Error="無效的手機號碼")
        if not fields.get("smbody"):
            return _answer(statuscode="u", Error="簡訊內容不得為空白")
        clientid = fields.get("clientid") or None
        with self._cond:
            if clientid is not None and clientid in self._by_client:
                first = self._by_client[clientid]
                return _answer(msgid=first.msgid, statuscode="1", Duplicate="Y", AccountPoint="98")
            sent = MitakeSent(
                msgid=str(next(self._ids)),
                dstaddr=fields["dstaddr"],
                smbody=fields["smbody"],
                clientid=clientid,
                response=fields.get("response") or None,
            )
            self._sent.append(sent)
            if clientid is not None:
                self._by_client[clientid] = sent
            self._cond.notify_all()
        return _answer(msgid=sent.msgid, statuscode="1", AccountPoint="99")
