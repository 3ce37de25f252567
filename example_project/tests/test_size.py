from __future__ import annotations

import pytest

from durasize import ParseError, Size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512", 512),
        ("0", 0),
        ("2 bytes", 2),
        ("1B", 1),
        ("64k", 64_000),
        ("10 MB", 10_000_000),
        ("10mb", 10_000_000),
        ("1.5 GiB", 1_610_612_736),
        ("1.5gib", 1_610_612_736),
        ("1KiB", 1024),
        ("0.5 KiB", 512),
        ("1_000_000", 1_000_000),
        ("2 EiB", 2 * 1024**6),
        ("  3 TB  ", 3 * 10**12),
    ],
)
def test_parse(text: str, size: int) -> None:
    assert Size.parse(text) == Size(size)


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("1.5 B", "not a whole number of bytes", 0),
        ("0.0001 kB", "not a whole number of bytes", 0),
        ("-1 MB", "a size cannot have a sign", 0),
        (" +1 MB", "a size cannot have a sign", 1),
        ("1 GB 200 MB", "expected one number, found another", 5),
        ("5 KIBS", "unknown unit 'KIBS'", 2),
        ("3 ZB", "unknown unit 'ZB'", 2),
        ("MB", "expected a number, found 'M'", 0),
    ],
)
def test_parse_errors(text: str, reason: str, position: int) -> None:
    with pytest.raises(ParseError) as caught:
        Size.parse(text)
    assert (caught.value.reason, caught.value.position) == (reason, position)


def test_huge_values_are_exact() -> None:
    text = "123456789012345678901234567890.5 kB"  # more digits than a float or default Decimal
    assert Size.parse(text).bytes == 123456789012345678901234567890500


@pytest.mark.parametrize(
    ("size", "binary", "text"),
    [
        (0, True, "0 B"),
        (1023, True, "1023 B"),
        (1024, True, "1 KiB"),
        (1536, True, "1.5 KiB"),
        (1_610_612_736, True, "1.5 GiB"),
        (999, False, "999 B"),
        (1000, False, "1 kB"),
        (12_345_678, False, "12.3 MB"),
        (12_350_000, False, "12.4 MB"),  # half rounds up, not to even
        (1024**2 - 1, True, "1 MiB"),  # 1023.999 KiB rounds into the next unit
        (999_950, False, "1 MB"),
        (5 * 1024**7, True, "5120 EiB"),  # no unit beyond EiB: the number grows
    ],
)
def test_format(size: int, binary: bool, text: str) -> None:
    assert Size(size).format(binary=binary) == text


def test_format_decimals() -> None:
    size = Size(1_234_567)
    assert size.format(decimals=0) == "1 MiB"
    assert size.format(decimals=3) == "1.177 MiB"
    assert size.format(binary=False, decimals=4) == "1.2346 MB"
    assert Size(1_050_000).format(binary=False, decimals=3) == "1.05 MB"  # zeros dropped
    with pytest.raises(ValueError, match="decimals must not be negative"):
        size.format(decimals=-1)


def test_format_then_parse_round_trips_when_exact() -> None:
    for size in (Size(0), Size(1536), Size(3 * 1024**3), Size(1_610_612_736)):
        assert Size.parse(str(size)) == size


def test_arithmetic() -> None:
    kib = Size(1024)
    assert kib + kib == 2 * kib == kib * 2 == Size.parse("2 KiB")
    assert kib - Size(24) == Size(1000)
    assert max(kib, Size(1000)) == kib
    with pytest.raises(ValueError, match="size would be negative"):
        Size(1) - kib
    with pytest.raises(ValueError, match="must be >= 0"):
        kib * -1
    with pytest.raises(TypeError):
        kib + 1  # type: ignore[operator]


def test_negative_and_non_int_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        Size(-1)
    with pytest.raises(TypeError):
        Size(1.0)  # type: ignore[arg-type]
