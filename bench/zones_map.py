"""Benchmark: rendering the advisory map (``outreach.zones.map.render_map``), as a dashboard does.

It renders the autumn-2025 picture (Phnom Penh level 2; Preah Sihanouk level 3; Bavet, Poipet and
Bokor level 4; seven provinces under a special advisory) with a count on every province and named
area, in Korean, English and Khmer, ``--runs`` times each after a warm-up, and prints the median,
95th percentile and worst time per render and the SVG's size. No database, Redis or network: the map
is a pure function of its inputs and the data files.

    .venv/bin/python bench/zones_map.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from outreach import create_app
from outreach.zones.map import AdvisoryLevel, render_map

LEVELS: dict[str, AdvisoryLevel | None] = {
    "KH-12": 2,
    "KH-18": 3,
    "2008": 4,
    "0110": 4,
    "0709": 4,
    **{code: "special" for code in ("KH-1", "KH-2", "KH-7", "KH-9", "KH-20", "KH-22", "KH-24")},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    counts = {f"KH-{n}": 40 * n for n in range(1, 26)} | {"2008": 37, "0110": 21, "0709": 5}
    for lang in ("ko", "en", "km"):
        with app.test_request_context(f"/?lang={lang}"):
            for _ in range(50):
                svg = render_map(LEVELS, counts, language=lang)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                render_map(LEVELS, counts, language=lang)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"{lang}: median {statistics.median(times):.3f} ms, p95 {p95:.3f} ms, max {times[-1]:.3f} ms"
            f" per render over {args.runs} runs; SVG {len(str(svg).encode()):,} bytes"
        )


if __name__ == "__main__":
    main()
