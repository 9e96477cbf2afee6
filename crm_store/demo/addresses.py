"""Street addresses: in Taiwan (in the customer's language), Los Angeles, London, Tokyo."""

from __future__ import annotations

import random
from dataclasses import dataclass

from crm_store.demo.context import Demo
from crm_store.models import Language


@dataclass(frozen=True)
class _Street:
    postcode: str
    city_zh: str
    district_zh: str
    street_zh: str
    city_en: str
    district_en: str
    street_en: str
    weight: int


# postcode | city | district | street | the same in English | weight (most live up north)
_TAIWAN_STREETS_TABLE = """
100|臺北市|中正區|重慶南路一段|Taipei City|Zhongzheng Dist.|Sec. 1, Chongqing S. Rd.|3
100|臺北市|中正區|羅斯福路二段|Taipei City|Zhongzheng Dist.|Sec. 2, Roosevelt Rd.|3
106|臺北市|大安區|復興南路一段|Taipei City|Da'an Dist.|Sec. 1, Fuxing S. Rd.|3
106|臺北市|大安區|和平東路二段|Taipei City|Da'an Dist.|Sec. 2, Heping E. Rd.|3
106|臺北市|大安區|敦化南路二段|Taipei City|Da'an Dist.|Sec. 2, Dunhua S. Rd.|2
110|臺北市|信義區|松仁路|Taipei City|Xinyi Dist.|Songren Rd.|2
110|臺北市|信義區|基隆路一段|Taipei City|Xinyi Dist.|Sec. 1, Keelung Rd.|3
104|臺北市|中山區|中山北路二段|Taipei City|Zhongshan Dist.|Sec. 2, Zhongshan N. Rd.|3
104|臺北市|中山區|南京東路三段|Taipei City|Zhongshan Dist.|Sec. 3, Nanjing E. Rd.|3
114|臺北市|內湖區|成功路四段|Taipei City|Neihu Dist.|Sec. 4, Chenggong Rd.|2
114|臺北市|內湖區|內湖路一段|Taipei City|Neihu Dist.|Sec. 1, Neihu Rd.|2
220|新北市|板橋區|文化路一段|New Taipei City|Banqiao Dist.|Sec. 1, Wenhua Rd.|3
220|新北市|板橋區|中山路一段|New Taipei City|Banqiao Dist.|Sec. 1, Zhongshan Rd.|3
231|新北市|新店區|北新路二段|New Taipei City|Xindian Dist.|Sec. 2, Beixin Rd.|3
234|新北市|永和區|永和路二段|New Taipei City|Yonghe Dist.|Sec. 2, Yonghe Rd.|2
234|新北市|永和區|竹林路|New Taipei City|Yonghe Dist.|Zhulin Rd.|2
330|桃園市|桃園區|中正路|Taoyuan City|Taoyuan Dist.|Zhongzheng Rd.|2
330|桃園市|桃園區|復興路|Taoyuan City|Taoyuan Dist.|Fuxing Rd.|2
320|桃園市|中壢區|中央西路二段|Taoyuan City|Zhongli Dist.|Sec. 2, Zhongyang W. Rd.|3
300|新竹市|東區|光復路二段|Hsinchu City|East Dist.|Sec. 2, Guangfu Rd.|2
300|新竹市|東區|關新路|Hsinchu City|East Dist.|Guanxin Rd.|1
403|臺中市|西區|臺灣大道二段|Taichung City|West Dist.|Sec. 2, Taiwan Blvd.|2
403|臺中市|西區|公益路|Taichung City|West Dist.|Gongyi Rd.|2
407|臺中市|西屯區|市政路|Taichung City|Xitun Dist.|Shizheng Rd.|2
407|臺中市|西屯區|河南路二段|Taichung City|Xitun Dist.|Sec. 2, Henan Rd.|2
700|臺南市|中西區|民生路二段|Tainan City|West Central Dist.|Sec. 2, Minsheng Rd.|2
700|臺南市|中西區|海安路二段|Tainan City|West Central Dist.|Sec. 2, Haian Rd.|1
800|高雄市|新興區|中山一路|Kaohsiung City|Xinxing Dist.|Zhongshan 1st Rd.|3
804|高雄市|鼓山區|美術東二路|Kaohsiung City|Gushan Dist.|Meishu E. 2nd Rd.|2
804|高雄市|鼓山區|明誠四路|Kaohsiung City|Gushan Dist.|Mingcheng 4th Rd.|1
970|花蓮縣|花蓮市|中山路|Hualien County|Hualien City|Zhongshan Rd.|1
"""


def _parse_streets(table: str) -> tuple[_Street, ...]:
    streets = []
    for line in table.strip().splitlines():
        postcode, city_zh, district_zh, street_zh, city_en, district_en, street_en, weight = (
            line.split("|")
        )
        streets.append(
            _Street(
                postcode,
                city_zh,
                district_zh,
                street_zh,
                city_en,
                district_en,
                street_en,
                int(weight),
            )
        )
    return tuple(streets)


_TAIWAN_STREETS = _parse_streets(_TAIWAN_STREETS_TABLE)
_TAIWAN_STREET_WEIGHTS = [street.weight for street in _TAIWAN_STREETS]

_LONDON_STREETS = (
    ("Camden Road", "NW1 9HX"),
    ("Upper Street", "N1 2XE"),
    ("Brick Lane", "E1 6QL"),
    ("Kensington High Street", "W8 5SE"),
    ("Clapham Road", "SW9 0JG"),
    ("Old Kent Road", "SE1 5AQ"),
)
_TOKYO_AREAS = (
    ("Jingumae", "Shibuya-ku", "150-0001"),
    ("Nishi-Shinjuku", "Shinjuku-ku", "160-0023"),
    ("Meguro", "Meguro-ku", "153-0063"),
    ("Kichijoji Honcho", "Musashino-shi", "180-0004"),
    ("Yanaka", "Taito-ku", "110-0001"),
)
_LA_ZIPS = ("90012", "90026", "90027", "90034", "90042", "90064")


def home_address(demo: Demo, language: Language, zone_name: str) -> str:
    """A home address in the time zone `zone_name`, in Taiwan for Asia/Taipei."""
    rng = demo.rng
    if zone_name == "America/Los_Angeles":
        street = str(demo.fake[Language.EN].street_address())
        return f"{street}, Los Angeles, CA {rng.choice(_LA_ZIPS)}, USA"
    if zone_name == "Europe/London":
        street, postcode = rng.choice(_LONDON_STREETS)
        return f"{rng.randint(2, 240)} {street}, London {postcode}, United Kingdom"
    if zone_name == "Asia/Tokyo":
        area, ward, postcode = rng.choice(_TOKYO_AREAS)
        block = f"{rng.randint(1, 6)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
        return f"{block} {area}, {ward}, Tokyo {postcode}, Japan"
    return taiwan_address(rng, language)


def taiwan_address(rng: random.Random, language: Language) -> str:
    """A street address in Taiwan, written the way a customer of `language` would."""
    street = rng.choices(_TAIWAN_STREETS, _TAIWAN_STREET_WEIGHTS)[0]
    lane = rng.randint(2, 300) if rng.random() < 0.45 else None
    number = rng.randint(1, 320)
    floor = rng.randint(2, 15) if rng.random() < 0.8 else None
    if language is Language.ZH_TW:
        lane_zh = f"{lane}巷" if lane else ""
        floor_zh = f"{floor}樓" if floor else ""
        return (
            f"{street.postcode}{street.city_zh}{street.district_zh}"
            f"{street.street_zh}{lane_zh}{number}號{floor_zh}"
        )
    parts = [f"{floor}F." if floor else "", f"No. {number}", f"Ln. {lane}" if lane else ""]
    head = ", ".join(part for part in parts if part)
    return (
        f"{head}, {street.street_en}, {street.district_en}, {street.city_en} "
        f"{street.postcode}, Taiwan (R.O.C.)"
    )
