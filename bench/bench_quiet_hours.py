"""Coverage of the quiet-hours data: the area-code table shipped in the layer and the state rules."""

from __future__ import annotations

import time

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def run() -> list[str]:
    from sms_consent import area_codes, state_rules

    started = time.perf_counter()
    area_codes.table.cache_clear()
    table = area_codes.all_area_codes()
    load_ms = (time.perf_counter() - started) * 1000
    named = [entry for entry in table if entry.region]
    corrected = [entry.npa for entry in table if entry.correction]
    several = [entry.npa for entry in table if len(entry.zones) > 1]
    by_country = {country: sum(1 for e in table if e.country == country) for country in ("US", "CA")}
    lines = [
        f"area codes (geographic): {len(table)} (US {by_country['US']}, Canada {by_country['CA']});"
        f" table read in {load_ms:.1f} ms",
        f"  with a state or province: {len(named)} ({len(named) / len(table):.1%});"
        f" places named: {len({entry.region for entry in named})}",
        f"  spanning several time zones: {len(several)} ({', '.join(several)})",
        f"  zones corrected against phonenumbers: {len(corrected)} ({', '.join(corrected)})",
        f"state rules: {len(state_rules.RULES)} besides the federal floor ({state_rules.FEDERAL.citation})",
    ]
    for region, rule in sorted(state_rules.RULES.items()):
        days = sorted({f"{w[0]:%H:%M}-{w[1]:%H:%M}" for w in rule.days if w})
        barred = [name for name, w in zip(WEEKDAYS, rule.days, strict=True) if w is None]
        extras = [f"no {'/'.join(barred)}"] if barred else []
        extras += ["no holidays"] if rule.holidays_barred else []
        extras += [f"cap {rule.cap[0]}/{rule.cap[1].total_seconds() / 3600:.0f}h"] if rule.cap else []
        unsure = " [unsure]" if "unsure" in rule.note else ""
        lines.append(
            f"  {region}: {', '.join(days)} {'; '.join(extras)} from {rule.effective} ({rule.citation}){unsure}"
        )
    return lines
