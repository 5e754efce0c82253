"""The consent text people agree to when they register, versioned.

The text is kept here rather than in the translation catalogs because what a person agreed to must
never change under them: a new wording gets a new :data:`CURRENT_VERSION` (and the old one stays in
:data:`TEXTS`), and each person's record stores the version, the time and the method of consent.
"""

from __future__ import annotations

from dataclasses import dataclass

CURRENT_VERSION = "2025-11"


@dataclass(frozen=True)
class ConsentText:
    version: str
    #: One short sentence, used where space is tight (the SMS conversation).
    summary: str
    #: The stated purposes, one per item.
    purposes: tuple[str, ...]
    #: How long the data is kept and how to see, change or delete it.
    retention: str


TEXTS: dict[str, dict[str, ConsentText]] = {
    "2025-11": {
        "ko": ConsentText(
            version="2025-11",
            summary=(
                "주캄보디아 대한민국 대사관이 안전 공지와 긴급 연락을 위해 내 정보를 사용하는 데 동의합니다."
            ),
            purposes=(
                "안전 공지와 긴급 알림을 문자(SMS), 왓츠앱, 이메일로 받습니다.",
                "비상시 대사관이 안전 여부를 묻고, 도움을 요청하면 영사 조력을 제공합니다.",
                "연락이 닿지 않을 때, 동의한 경우에만 비상연락처에 연락합니다.",
            ),
            retention=(
                "정보는 등록되어 있는 동안 보관하며, 여행자의 정보는 출국일 30일 후 삭제합니다. "
                "받은 링크로 언제든지 정보를 확인, 수정, 삭제할 수 있습니다."
            ),
        ),
        "en": ConsentText(
            version="2025-11",
            summary=(
                "I agree that the Embassy of the Republic of Korea in Cambodia uses my details for safety "
                "notices and emergency contact."
            ),
            purposes=(
                "To send me safety notices and emergency alerts by SMS, WhatsApp and e-mail.",
                "To ask whether I am safe in an emergency and to give consular help when I ask for it.",
                "To contact my emergency contact when I cannot be reached, only if I agree to it.",
            ),
            retention=(
                "My details are kept while I am registered; a traveler's details are deleted 30 days after "
                "the departure date. I can see, change or delete them at any time through the link I receive."
            ),
        ),
        "km": ConsentText(
            version="2025-11",
            summary=(
                "ខ្ញុំយល់ព្រមឱ្យស្ថានទូតសាធារណរដ្ឋកូរ៉េប្រចាំកម្ពុជា ប្រើព័ត៌មានរបស់ខ្ញុំ សម្រាប់ការជូនដំណឹងអំពីសុវត្ថិភាព និងការទំនាក់ទំនងបន្ទាន់។"
            ),
            purposes=(
                "ដើម្បីផ្ញើការជូនដំណឹងអំពីសុវត្ថិភាព និងការប្រកាសអាសន្ន តាម SMS, WhatsApp និងអ៊ីមែល។",
                "ដើម្បីសួរថាខ្ញុំមានសុវត្ថិភាពឬទេ នៅពេលមានអាសន្ន និងផ្តល់ជំនួយកុងស៊ុល នៅពេលខ្ញុំស្នើសុំ។",
                "ដើម្បីទាក់ទងអ្នកទំនាក់ទំនងបន្ទាន់របស់ខ្ញុំ នៅពេលទាក់ទងខ្ញុំមិនបាន លុះត្រាតែខ្ញុំយល់ព្រម។",
            ),
            retention=(
                "ព័ត៌មានរបស់ខ្ញុំត្រូវរក្សាទុក ខណៈដែលខ្ញុំបានចុះឈ្មោះ។ ព័ត៌មានរបស់អ្នកធ្វើដំណើរ "
                "ត្រូវលុបចោល ៣០ ថ្ងៃក្រោយថ្ងៃចាកចេញ។ ខ្ញុំអាចមើល កែប្រែ ឬលុបវាបានគ្រប់ពេល តាមតំណដែលខ្ញុំទទួលបាន។"
            ),
        ),
    },
}


def consent_text(language: str, version: str = CURRENT_VERSION) -> ConsentText:
    """The consent text of ``version`` in ``language`` (English when that language is missing)."""
    texts = TEXTS[version]
    return texts.get(language) or texts["en"]
