"""One way to write values for people, on screen and in reports (Qt-free).

Names, descriptions, dates, ages, sex, transfer syntaxes, probabilities and figures are written here and only
here, so the viewer's corners, the study browser, the findings panel, the model dialog and the
PDF say the same thing with the same digits:

>>> person_name("DOE^JANE^M=ドウ^ジェーン")
'DOE, JANE M'
>>> sex_age("M", "051Y")
'51 y, male'
>>> percent(0.99)
'99.0 %'
"""

from __future__ import annotations

import datetime as dt
import math

from pydicom.uid import UID

AGE_UNITS = {"Y": "y", "M": "mo", "W": "wk", "D": "d"}
SEX_WORDS = {"M": "male", "F": "female", "O": "other"}


def person_name(value: object) -> str:
    """A DICOM PN ("Family^Given^Middle^Prefix^Suffix=ideographic=phonetic") for people:
    the first non-empty group (alphabetic, else ideographic, else phonetic), "Family, Given
    Middle". Family names stay as written (often upper case); the others are left as they are.

    >>> person_name("RADLENS^DEMO")
    'RADLENS, DEMO'
    >>> person_name("=山田^太郎")
    '山田, 太郎'
    """
    groups = [g for g in str(value or "").split("=") if g.strip("^ ")]
    if not groups:
        return ""
    family, _, rest = groups[0].partition("^")
    others = " ".join(part.strip() for part in rest.split("^") if part.strip())
    return ", ".join(part for part in (family.strip(), others) if part)


def description(value: object) -> str:
    """A study or series description for people: the components some scanners join with "^"
    ("Thorax^1_CHEST_AP", Siemens' region^protocol) separated by " · ", blanks dropped.

    >>> description("Rorden^Rorden_Prisma")
    'Rorden · Rorden_Prisma'
    """
    return " · ".join(part.strip() for part in str(value or "").split("^") if part.strip())


def dicom_date(value: object) -> str:
    """DICOM DA "YYYYMMDD" as ISO "YYYY-MM-DD"; anything else unchanged (stripped)."""
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def parse_date(value: object) -> dt.date | None:
    """A DICOM DA value (YYYYMMDD; the old YYYY.MM.DD too) as a date; None when not a date."""
    text = str(value or "").strip().replace(".", "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def dicom_age(value: object) -> str:
    """A DICOM AS ("051Y", "006M", "003W", "010D") as "51 y", "6 mo", "3 wk", "10 d"."""
    text = str(value or "").strip().upper()
    if len(text) >= 2 and text[:-1].isdigit() and text[-1] in AGE_UNITS:
        return f"{int(text[:-1])} {AGE_UNITS[text[-1]]}"
    return text


def age_between(birth: dt.date, on: dt.date) -> str:
    """Age on a date, in years from 2 y, in months under that, in days under a month."""
    if on < birth:
        return ""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years >= 2:
        return f"{years} y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    return f"{months} mo" if months >= 1 else f"{(on - birth).days} d"


def patient_age(age: object, birth_date: object = "", study_date: object = "") -> str:
    """PatientAge when the file has it, else the age from the birth date on the study date."""
    stated = dicom_age(age)
    if stated:
        return stated
    birth, on = parse_date(birth_date), parse_date(study_date)
    return age_between(birth, on) if birth and on else ""


def sex_word(value: object) -> str:
    text = str(value or "").strip().upper()
    return SEX_WORDS.get(text, text.lower())


def sex_age(sex: object, age: object, birth_date: object = "", study_date: object = "") -> str:
    """ "51 y, male" (either part may be missing)."""
    parts = (patient_age(age, birth_date, study_date), sex_word(sex))
    return ", ".join(part for part in parts if part)


def transfer_syntax_name(uid: object) -> str:
    """The transfer syntax by its name ("Explicit VR Little Endian"), the UID when unknown."""
    text = str(uid or "").strip()
    if not text or not all(part.isdigit() for part in text.split(".")):
        return text  # not a UID (e.g. a JPEG/PNG secondary image)
    name = UID(text).name
    return name if name and name != text else text


def percent(fraction: float) -> str:
    """A probability or threshold for people: one decimal, e.g. "99.0 %" (nan → "n/a")."""
    value = float(fraction)
    return "n/a" if math.isnan(value) else f"{value * 100:.1f} %"


def figure(value: object) -> str:
    """A metric for people: floats to 3 decimals, ranges (a confidence interval) as "a–b"."""
    if isinstance(value, list | tuple):
        return "–".join(figure(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def figures(metrics: dict[str, object]) -> str:
    return ", ".join(f"{name} {figure(value)}" for name, value in metrics.items())


def date_time(value: dt.datetime) -> str:
    """A moment for people: "2026-01-02 10:30 UTC" (the zone's name, else its offset)."""
    zone = value.tzname() or ""
    if zone and not zone.isalpha():
        zone = value.strftime("UTC%z")
    return f"{value:%Y-%m-%d %H:%M} {zone}".strip()
