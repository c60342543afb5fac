"""The broker report as one self-contained HTML page: tables, and pictures drawn by
matplotlib as inline SVG (no script, no CDN, no file beside it: it opens offline, prints,
and reads on a phone). ``render(figures)`` takes what ``figures.figures`` returns.

matplotlib, not plotly: SVG text is a few tens of kilobytes a picture where plotly would
inline three megabytes of JavaScript into every report, and a static picture is what a
report that is mailed and archived needs.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from arbitrex.report.study import quantile

__all__ = ["render"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")

_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)  # RDF naming the tool: not needed

CSS = """
:root { --fg:#1b2430; --dim:#5b6b7c; --line:#dde3ea; --bg:#fff; --accent:#1f77b4; }
* { box-sizing:border-box; }
body { margin:0 auto; max-width:1240px; padding:1rem; font:15px/1.45 system-ui, -apple-system,
  "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
h1 { font-size:1.5rem; margin:.2rem 0; } h2 { font-size:1.15rem; margin:2rem 0 .5rem;
  border-bottom:2px solid var(--line); padding-bottom:.2rem; }
h3 { font-size:1rem; margin:1.2rem 0 .4rem; }
p.meta, .note { color:var(--dim); font-size:.9rem; }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; font-variant-numeric:tabular-nums; font-size:.8rem;
  margin:.3rem 0 1rem; }
th, td { padding:.22rem .4rem; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
th { color:var(--dim); font-weight:600; font-size:.75rem; text-transform:uppercase; }
th:first-child, td:first-child, td.l, th.l { text-align:left; }
.verdict { padding:.5rem .7rem; border-left:4px solid var(--accent); background:#f4f7fb;
  margin:.4rem 0; }
.verdict.bad { border-color:#d62728; background:#fdf2f2; }
figure { margin:.5rem 0 1.5rem; } figure svg { width:100%; height:auto; }
figcaption { color:var(--dim); font-size:.85rem; }
.empty { color:var(--dim); font-style:italic; }
nav a { margin-right:.8rem; }
@media (max-width:600px) { body { padding:.6rem; font-size:14px; } }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _utc(msc: int, seconds: bool = False) -> str:
    return datetime.fromtimestamp(msc / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _num(value: Any, decimals: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    out = ["<div class=scroll><table><thead><tr>"]
    out += [f"<th{' class=l' if i < left else ''}>{_e(h)}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    n = 0
    for row in rows:
        n += 1
        out.append("<tr>" + "".join(f"<td{' class=l' if i < left else ''}>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out) if n else "<p class=empty>No data in the range.</p>"


def _svg(draw: Callable[[Any], None], height: float = 3.2) -> str:
    """A picture drawn by ``draw(figure)`` as inline SVG text."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False, "svg.hashsalt": "arbitrex"}):
        fig = Figure(figsize=(9, height), layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return _METADATA.sub("", text[text.index("<svg"):])


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _digits(f: dict[str, Any]) -> dict[str, int]:
    """Each symbol's most decimals quoted at any venue (its point)."""
    out: dict[str, int] = {}
    for v in f["venues"].values():
        for symbol, s in v["symbols"].items():
            out[symbol] = max(out.get(symbol, 0), s["digits"])
    return out


# The pictures


def _top_net(f: dict[str, Any]) -> str:
    series = f["series"]["top_net"]
    if not series:
        return "<p class=empty>No symbol was quoted at two venues at once.</p>"
    digits = _digits(f)

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        for i, (symbol, s) in enumerate(sorted(series.items())):
            xs = [datetime.fromtimestamp((s["from_msc"] + b * s["bucket_ms"]) / 1000,
                                         tz=timezone.utc) for b, _ in s["points"]]
            ys = [v * 10 ** digits.get(symbol, 0) for _, v in s["points"]]
            ax.plot(xs, ys, lw=1, color=PALETTE[i % len(PALETTE)], label=symbol)
        ax.axhline(0, color="#888", lw=.8)
        ax.set_ylabel("top net edge, points")
        ax.legend(loc="upper right", fontsize=8, ncols=min(4, len(series)))
        fig.autofmt_xdate()
    return _figure(_svg(draw), "The top net edge of each symbol over time (the highest over "
                   "each stretch of the range, in points; above zero an edge paid after costs).")


def _durations(f: dict[str, Any]) -> str:
    counts = f["series"]["durations_ms"]
    if not counts:
        return "<p class=empty>No episode ended in the range.</p>"

    def draw(fig: Any) -> None:
        import numpy as np

        ax = fig.subplots()
        values = np.array([max(v, 1) for v, _ in counts], float)
        weights = np.array([n for _, n in counts], float)
        bins = np.logspace(0, np.log10(max(values.max(), 10)) + 0.05, 40)
        ax.hist(values, bins=bins, weights=weights, color=PALETTE[0])
        ax.set_xscale("log")
        ax.set_xlabel("duration, ms (log)")
        ax.set_ylabel("episodes")
    return _figure(_svg(draw), "How long episodes lasted (every ended episode, every pair).")


def _leads(f: dict[str, Any]) -> str:
    lead = f["lead"]
    if not lead:
        return "<p class=empty>No two venues quoted a symbol at once: nobody to lead.</p>"

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        labels = [f"{r['symbol']}  {r['leader']} → {r['follower']}" for r in lead]
        ys = range(len(lead))
        ax.barh(list(ys), [r["lead_ms"] for r in lead],
                color=[PALETTE[0] if r["confidence"] >= 0.5 else "#aab4c0" for r in lead])
        for y, r in zip(ys, lead, strict=True):
            ax.text(r["lead_ms"], y, f"  {r['lead_ms']:g} ms ({r['confidence']:.0%})",
                    va="center", fontsize=8)
        ax.set_yticks(list(ys), labels)
        ax.invert_yaxis()
        ax.margins(x=0.18)
        ax.set_xlabel("the follower's mid trails the leader's by, ms (receive clock)")
    return _figure(_svg(draw, 0.6 + 0.32 * len(lead)),
                   "Who leads whom, by how much (in brackets: the share of minutes that agree; "
                   "grey: under half).")


def _spread_by_hour(f: dict[str, Any]) -> str:
    per = f["series"]["spread_by_hour_points"]
    if not per:
        return "<p class=empty>No spreads in the range.</p>"
    symbols = sorted(per)[:6]
    venues = sorted({v for s in symbols for v in per[s]})

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, len(symbols), sharex=True, squeeze=False)[0]
        for ax, symbol in zip(axes, symbols, strict=True):
            for i, venue in enumerate(venues):
                hours = per[symbol].get(venue)
                if hours:
                    xs = sorted(int(h) for h in hours)
                    ax.plot(xs, [hours[h] if h in hours else hours[str(h)] for h in xs],
                            marker="o", ms=4, lw=1.2, color=PALETTE[i % len(PALETTE)],
                            label=venue)
            ax.set_title(symbol, fontsize=9)
            ax.set_xlim(-0.5, 23.5)
            ax.set_xticks(range(0, 24, 6))
            ax.set_xlabel("hour (UTC)")
        axes[0].set_ylabel("median spread, points")
        axes[0].legend(fontsize=8)
    return _figure(_svg(draw), "Spread by hour of the day, per venue (median, points).")


def _lags(f: dict[str, Any]) -> str:
    per = f["series"]["lag_ms"]
    if not per:
        return "<p class=empty>No ticks in the range.</p>"

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        names = sorted(per)
        widest = 0.0
        for y, venue in enumerate(names):
            counts = dict(per[venue])
            p = {q: quantile(counts, q) for q in (0.01, 0.25, 0.5, 0.75, 0.99)}
            color = PALETTE[y % len(PALETTE)]
            ax.plot([p[0.01], p[0.99]], [y, y], color=color, lw=1.5)
            ax.plot([p[0.25], p[0.75]], [y, y], color=color, lw=8, solid_capstyle="butt")
            ax.plot([p[0.5]], [y], marker="|", ms=16, mew=2.5, color="#111")
            ax.text(p[0.99], y, f"  median {p[0.5]:,} ms, p99 {p[0.99]:,} ms", va="center",
                    fontsize=8)
            widest = max(widest, abs(p[0.01]), abs(p[0.99]))
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.invert_yaxis()
        if widest > 5_000:  # a clock hours off beside milliseconds: a log scale both ways
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlabel("lag: received minus event time, ms (symlog)")
        else:
            ax.set_xlabel("lag: received minus event time, ms")
        ax.margins(x=0.3)
    return _figure(_svg(draw, 0.8 + 0.45 * len(per)),
                   "Lag per venue: 1st to 99th percentile (thin), interquartile (thick), median "
                   "(black). Hours away from zero mean a wrong BROKER_TIMEZONE (see Clocks).")


def _by_hour(f: dict[str, Any]) -> str:
    totals = [0] * 24
    for p in f["episodes"]:
        for hour, n in p["by_hour"].items():
            totals[int(hour)] += n
    if not any(totals):
        return ""

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        ax.bar(range(24), totals, color=PALETTE[2])
        ax.set_xlabel("hour (UTC)")
        ax.set_ylabel("episodes ended")
    return _figure(_svg(draw, 2.6), "Ended episodes per hour of the day (UTC).")


# The page


def _scorecard(f: dict[str, Any]) -> str:
    rows = []
    for venue, v in sorted(f["venues"].items()):
        for symbol, s in sorted(v["symbols"].items()):
            rows.append([
                _e(venue), _e(symbol), f"{s['ticks']:,}", f"{s['ticks_per_minute']:,.1f}",
                f"{_num(s['spread_median_points'])} / {_num(s['spread_p95_points'])}",
                f"{_num(s['lag_median_ms'])} / {_num(s['lag_p99_ms'])}",
                _pct(s["stale_share"]),
                f"{s['freezes']:,}" + (f" ({s['longest_freeze_ms'] / 1000:,.1f} s)"
                                       if s["freezes"] else ""),
                _pct(s["best_bid_share"]), _pct(s["best_ask_share"]),
                f"{s['episodes_sell']:,} / {s['episodes_buy']:,}"])
    venue_rows = [[_e(venue), f"{v['ticks']:,}", f"{v['outages']:,}",
                   f"{v['outage_ms'] / 1000:,.0f} s"] for venue, v in sorted(f["venues"].items())]
    return (_table(["venue", "symbol", "ticks", "per min", "spread med / p95 (pts)",
                    "lag med / p99 (ms)", "stale", "freezes (longest)", "best bid",
                    "best ask", "episodes sell / buy"], rows, 2)
            + "<h3>Outages (no tick of any symbol for 60 s or more)</h3>"
            + _table(["venue", "ticks", "outages", "time out"], venue_rows))


def _lead_section(f: dict[str, Any]) -> str:
    rows = [[_e(r["symbol"]), _e(r["leader"]), _e(r["follower"]), f"{r['lead_ms']:g} ms",
             _pct(r["confidence"]), f"{r['correlation']:.2f}", f"{r['windows']:,}"]
            for r in f["lead"]]
    ranking = "".join(f"<li><b>{_e(symbol)}</b>: {' → '.join(map(_e, order))}</li>"
                      for symbol, order in f["ranking"].items())
    return (_table(["symbol", "leader", "follower", "lead", "confidence", "correlation",
                    "minutes"], rows, 3)
            + (f"<p>Fastest to slowest:</p><ul>{ranking}</ul>" if ranking else ""))


def _clock_section(f: dict[str, Any]) -> str:
    out = []
    for venue, c in sorted(f["clocks"].items()):
        bad = c["suggest"] is not None
        days = ", ".join(f"{day}: {_num(ms)} ms" for day, ms in list(c["daily_lag_ms"].items())
                         [-14:])
        out.append(f"<div class='verdict{' bad' if bad else ''}'><b>{_e(venue)}</b> "
                   f"(BROKER_TIMEZONE={_e(c['configured'])}): {_e(c['verdict'])}"
                   f"<br><span class=note>median lag per UTC day: {_e(days)}</span></div>")
    return "".join(out) or "<p class=empty>No ticks in the range.</p>"


def _episode_section(f: dict[str, Any]) -> str:
    digits = _digits(f)
    rows = [[_e(p["symbol"]), _e(p["sell"]), _e(p["buy"]), f"{p['count']:,}",
             f"{_num(p['duration_median_ms'])} / {_num(p['duration_p90_ms'])} ms",
             f"{_num(p['longest_ms'])} ms",
             _num(round((p["peak_net_median"] or 0) * 10 ** digits.get(p["symbol"], 0), 1)),
             f"{p['open_ms'] / 1000:,.1f} s"] for p in f["episodes"]]
    best = [[_e(e["symbol"]), _e(e["sell"]), _e(e["buy"]), _e(_utc(e["start_ns"] // 10**6)),
             f"{e['duration_ms']:,.0f} ms" if e["duration_ms"] is not None else "open",
             _num(round(e["peak_net"] * 10 ** digits.get(e["symbol"], 0), 1)),
             _e(f"{e['closed_by']} ({e['reason']})" if e["closed_by"] else "")]
            for e in f["best_episodes"]]
    return (_table(["symbol", "sell", "buy", "episodes", "duration med / p90", "longest",
                    "peak net med (pts)", "time open"], rows, 3)
            + "<h3>The ten best (highest peak net)</h3>"
            + _table(["symbol", "sell", "buy", "start", "duration", "peak net (pts)",
                      "closed by"], best, 3))


def render(f: dict[str, Any], *, title: str = "arbitrex — broker report") -> str:
    """The page for ``f`` (``figures.figures``'s result)."""
    r = f["range"]
    venues = ", ".join(sorted(f["venues"])) or "none"
    symbols = sorted({s for v in f["venues"].values() for s in v["symbols"]})
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    short = r["to_msc"] - r["from_msc"] < 86_400_000  # under a day: to the second
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=meta>{_e(_utc(r['from_msc'], short))} to {_e(_utc(r['to_msc'], short))} · "
        f"{r['ticks']:,} ticks · venues: {_e(venues)} · symbols: "
        f"{_e(', '.join(symbols) or 'none')} · made {made}</p>",
        "<nav><a href='#scorecard'>Scorecard</a><a href='#leads'>Who leads</a>"
        "<a href='#clocks'>Clocks</a><a href='#episodes'>Episodes</a></nav>",
        "<h2 id=scorecard>Scorecard</h2>",
        "<p class=note>Per venue and symbol. Stale: the share of the time the venue's latest "
        "tick was more than STALE_AFTER_MS older than the newest of the symbol. Freezes: "
        f"no tick for {r['freeze_ms']:,} ms (receive clock) while the other venues sent at "
        "least 10. Best bid / ask: the share of the time it quoted the best (ties to the "
        "name first). Episodes: those it was the sell or the buy side of.</p>",
        _scorecard(f), _spread_by_hour(f), _lags(f),
        "<h2 id=leads>Who leads</h2>",
        "<p class=note>How many milliseconds each venue's mid price trails another's on the "
        "receive clock: the peak of the cross-correlation of their mid-price changes over "
        "lags in 1 ms steps, minute by minute; confidence is the share of minutes whose own "
        "peak is within 15 ms.</p>",
        _lead_section(f), _leads(f),
        "<h2 id=clocks>Clocks</h2>",
        "<p class=note>Each venue's median lag per UTC day, the broker clock's offset it "
        "implies, and the zone to set where the configured one does not fit.</p>",
        _clock_section(f),
        "<h2 id=episodes>Episodes</h2>",
        "<p class=note>Runs of states in which selling at one venue and buying at another "
        "paid more than both venues' costs (docs/PROTOCOL.md: Episodes).</p>",
        _episode_section(f), _top_net(f), _durations(f), _by_hour(f),
    ]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
