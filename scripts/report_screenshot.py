"""Screenshot of a report page in headless Chromium, as the report's browser test takes it.

    python scripts/report_screenshot.py outputs/quickstart/report.html docs/report.png

The README's picture of the astronaut's report is made so from ``make run``'s output. The page is
opened from ``file://`` (see :mod:`facerecon.testing.browser`); the screenshot is taken once its
3D views in sight have drawn, and the command fails if the browser reported an error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facerecon.testing.browser import open_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the report.html (or comparison.html) to open")
    parser.add_argument("picture", type=Path, help="where to write the PNG screenshot")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    parser.add_argument("--height", type=int, default=1000, help="viewport height in pixels")
    args = parser.parse_args()
    with open_report(args.report, args.width, args.height) as opened:
        states = opened.wait_for_views()
        opened.page.screenshot(path=str(args.picture))
        problems = opened.errors + [f"a 3D view ended '{state}'" for state in states if state != "ready"]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"wrote {args.picture}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
