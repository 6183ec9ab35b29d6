"""Case numbers and PINs: drawn uniformly from the 32-letter alphabet, read back however a
person types them, and the PIN kept only as a peppered slow hash."""

from __future__ import annotations

from collections import Counter

from hashcheck.submit import cases


def test_numbers_and_pins_use_every_letter_evenly_and_read_back() -> None:
    numbers = [cases.new_case_number() for _ in range(2000)]
    pins = [cases.new_pin() for _ in range(2000)]
    assert len(set(numbers)) == len(numbers)
    letters = Counter("".join(numbers + pins).replace("-", ""))
    assert set(letters) == set(cases.ALPHABET)
    expected = sum(letters.values()) / len(cases.ALPHABET)  # 1,125 each
    assert all(abs(count - expected) < 0.2 * expected for count in letters.values()), letters
    for number, pin in zip(numbers[:50], pins[:50], strict=True):
        assert len(number) == 11 and number[5] == "-"
        assert len(pin) == 9 and pin[4] == "-"
        typed = number.lower().replace("-", " ").replace("1", "l").replace("0", "o")
        assert cases.read_case_number(typed) == number
        assert cases.read_pin(pin.replace("-", "")) == pin
    assert cases.read_case_number("U" * 10) is None  # not in the alphabet
    assert cases.read_case_number("²" * 10) is None
    assert cases.read_pin("0" * 7) is None


def test_the_pin_is_kept_as_a_peppered_slow_hash() -> None:
    number, pin = cases.new_case_number(), cases.new_pin()
    stored = cases.hash_pin(b"pepper", number, pin)
    assert pin not in stored and pin.replace("-", "") not in stored
    assert stored.startswith("pin-scrypt$")
    assert cases.verify_pin(b"pepper", number, pin, stored)
    assert not cases.verify_pin(b"other pepper", number, pin, stored)
    assert not cases.verify_pin(b"pepper", number, cases.new_pin(), stored)
    assert not cases.verify_pin(b"pepper", number, pin, cases.DECOY)
    assert not cases.verify_pin(b"pepper", number, pin, "not$a$stored$value")
    assert stored != cases.hash_pin(b"pepper", number, pin)  # salted
