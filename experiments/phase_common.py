"""What every study phase shares: the headline-row format of a phase summary."""


def row(name: str, value, lo=None, hi=None, baseline=None, note=None, p=None) -> dict:
    """One headline number with its CI (``lo``/``hi``) or ``p``, its baseline and a note, as the report shows it."""
    return {"name": name, "value": value, "lo": lo, "hi": hi, "baseline": baseline, "note": note, "p": p}
