"""Coverage of the quiet-hours data: the area-code table and the state rules."""

from __future__ import annotations


def run() -> list[str]:
    from sms_consent import area_codes, state_rules

    table = area_codes.all_area_codes()
    named = [entry for entry in table if entry.region]
    lines = [
        f"area codes (US and Canada, geographic): {len(table)}",
        f"  with a state or province: {len(named)} ({len(named) / len(table):.1%})",
        f"  spanning several time zones: {sum(1 for entry in table if len(entry.zones) > 1)}",
        f"  zones corrected against phonenumbers: {sum(1 for entry in table if entry.correction)}"
        f" ({', '.join(sorted(area_codes.ZONE_CORRECTIONS))})",
        f"state rules: {len(state_rules.RULES)} besides the federal floor ({state_rules.FEDERAL.citation})",
    ]
    for region, rule in sorted(state_rules.RULES.items()):
        days = sorted({f"{w[0]:%H:%M}-{w[1]:%H:%M}" for w in rule.days if w})
        barred = [
            name
            for name, w in zip(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], rule.days, strict=True)
            if w is None
        ]
        extras = [f"no {'/'.join(barred)}"] if barred else []
        extras += ["no holidays"] if rule.holidays_barred else []
        extras += [f"cap {rule.cap[0]}/{rule.cap[1].total_seconds() / 3600:.0f}h"] if rule.cap else []
        lines.append(f"  {region}: {', '.join(days)} {'; '.join(extras)} from {rule.effective} ({rule.citation})")
    return lines
