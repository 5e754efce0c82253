"""The 25 provinces of Cambodia (ISO 3166-2:KH), with Korean, English and Khmer names."""

from __future__ import annotations

# (code, number, Korean, English, Khmer)
PROVINCES: list[tuple[str, int, str, str, str]] = [
    ("KH-1", 1, "반테아이민체이", "Banteay Meanchey", "បន្ទាយមានជ័យ"),
    ("KH-2", 2, "바탐방", "Battambang", "បាត់ដំបង"),
    ("KH-3", 3, "캄퐁참", "Kampong Cham", "កំពង់ចាម"),
    ("KH-4", 4, "캄퐁치낭", "Kampong Chhnang", "កំពង់ឆ្នាំង"),
    ("KH-5", 5, "캄퐁스푸", "Kampong Speu", "កំពង់ស្ពឺ"),
    ("KH-6", 6, "캄퐁톰", "Kampong Thom", "កំពង់ធំ"),
    ("KH-7", 7, "캄폿", "Kampot", "កំពត"),
    ("KH-8", 8, "칸달", "Kandal", "កណ្ដាល"),
    ("KH-9", 9, "코콩", "Koh Kong", "កោះកុង"),
    ("KH-10", 10, "크라체", "Kratie", "ក្រចេះ"),
    ("KH-11", 11, "몬둘키리", "Mondulkiri", "មណ្ឌលគិរី"),
    ("KH-12", 12, "프놈펜", "Phnom Penh", "ភ្នំពេញ"),
    ("KH-13", 13, "프레아비히어", "Preah Vihear", "ព្រះវិហារ"),
    ("KH-14", 14, "프레이벵", "Prey Veng", "ព្រៃវែង"),
    ("KH-15", 15, "푸르삿", "Pursat", "ពោធិ៍សាត់"),
    ("KH-16", 16, "라타나키리", "Ratanakiri", "រតនគិរី"),
    ("KH-17", 17, "시엠립", "Siem Reap", "សៀមរាប"),
    ("KH-18", 18, "시아누크빌", "Preah Sihanouk", "ព្រះសីហនុ"),
    ("KH-19", 19, "스텅트렝", "Stung Treng", "ស្ទឹងត្រែង"),
    ("KH-20", 20, "스바이리엥", "Svay Rieng", "ស្វាយរៀង"),
    ("KH-21", 21, "타케오", "Takeo", "តាកែវ"),
    ("KH-22", 22, "오다르민체이", "Oddar Meanchey", "ឧត្ដរមានជ័យ"),
    ("KH-23", 23, "캡", "Kep", "កែប"),
    ("KH-24", 24, "파일린", "Pailin", "ប៉ៃលិន"),
    ("KH-25", 25, "트봉크뭄", "Tboung Khmum", "ត្បូងឃ្មុំ"),
]
