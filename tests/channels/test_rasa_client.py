import pytest

from channels.rasa_client import detect_language, to_traditional
from crm_store.models import Language


@pytest.mark.parametrize(
    ("simplified", "traditional"),
    [
        ("我的快递三天了还没到", "我的快遞三天了還沒到"),
        ("软件打不开，信息也发不出去", "軟體打不開，資訊也發不出去"),
        ("退款 A1234567 还没收到", "退款 A1234567 還沒收到"),
    ],
)
def test_simplified_chinese_becomes_taiwan_traditional(simplified: str, traditional: str) -> None:
    assert to_traditional(simplified) == traditional


def test_other_text_is_left_alone() -> None:
    assert to_traditional("where is my parcel? 🙂") == "where is my parcel? 🙂"
    assert to_traditional("包裹還沒到") == "包裹還沒到"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的包裹還沒到", Language.ZH_TW),
        ("我的快递", Language.ZH_TW),
        ("my Insulated Bottle 壞了", Language.ZH_TW),
        ("where is my order", Language.EN),
        ("A1234567", None),
        ("5", None),
        ("👍", None),
    ],
)
def test_language_of_a_message(text: str, language: Language | None) -> None:
    assert detect_language(text) == language
