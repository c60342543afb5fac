"""MetaTrader 5's own tick export (History Center "Export Ticks"), read only.

Tab-separated, UTF-16 (with BOM) or UTF-8, a header ``<DATE> <TIME> <BID> <ASK> <LAST>
<VOLUME> <FLAGS>``, dates ``2026.11.20`` and times ``09:30:00.125`` on the broker's clock.
An empty BID/ASK/LAST cell means "unchanged since the previous tick"; an empty VOLUME or
FLAGS, zero. The file names no symbol, so the caller gives it; seq is 1..N in file order.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from arbitrex.clock import BrokerClock
from arbitrex.errors import TickError
from arbitrex.model.tick import UNNAMED_VENUE, Tick, validate

__all__ = ["COLUMNS", "VENUE", "read"]

COLUMNS = ("<DATE>", "<TIME>", "<BID>", "<ASK>", "<LAST>", "<VOLUME>", "<FLAGS>")
VENUE = UNNAMED_VENUE


def _encoding(path: Path) -> str:
    head = path.read_bytes()[:4]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(head) >= 2 and head[1:2] == b"\x00":
        return "utf-16-le"
    return "utf-8"


def _broker_msc(date: str, clock_time: str) -> int:
    fmt = "%Y.%m.%d %H:%M:%S.%f" if "." in clock_time else "%Y.%m.%d %H:%M:%S"
    stamp = datetime.strptime(f"{date} {clock_time}", fmt).replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)


def read(path: Path, *, symbol: str, clock: BrokerClock | None = None) -> Iterator[Tick]:
    clock = clock or BrokerClock("UTC")
    encoding = _encoding(path)
    number = 0
    try:
        with open(path, encoding=encoding, newline="") as f:
            header = f.readline().strip().split("\t")
            number = 1
            unknown = [c for c in header if c not in COLUMNS]
            if unknown or header[:2] != ["<DATE>", "<TIME>"]:
                raise TickError(f"unknown column {unknown[0] if unknown else header[0]!r}; "
                                f"expected {' '.join(COLUMNS)}")
            index = {name: i for i, name in enumerate(header)}
            bid = ask = last = 0.0
            seq = 0
            for number, line in enumerate(f, 2):  # noqa: B007 (named in errors)
                line = line.rstrip("\r\n")
                if not line:
                    continue
                cells = line.split("\t")
                if len(cells) < 2:
                    raise TickError("truncated line")
                cells += [""] * (len(header) - len(cells))

                def cell(name: str, cells: list[str] = cells) -> str:
                    i = index.get(name)
                    return cells[i].strip() if i is not None else ""

                broker = _broker_msc(cell("<DATE>"), cell("<TIME>"))
                bid = float(cell("<BID>")) if cell("<BID>") else bid
                ask = float(cell("<ASK>")) if cell("<ASK>") else ask
                last = float(cell("<LAST>")) if cell("<LAST>") else last
                volume = float(cell("<VOLUME>")) if cell("<VOLUME>") else 0.0
                flags = int(cell("<FLAGS>")) if cell("<FLAGS>") else 0
                seq += 1
                yield validate(Tick(VENUE, symbol, seq, clock.to_utc_msc(broker), bid, ask, last,
                                    int(volume), volume, flags, 0, broker))
    except UnicodeError as exc:
        raise TickError(f"{path}:{number}: not {encoding} text ({exc})") from None
    except (ValueError, TickError) as exc:
        raise TickError(f"{path}:{number}: {exc}") from None
    except OSError as exc:
        raise TickError(f"{path}: cannot read ({exc.strerror})") from exc
