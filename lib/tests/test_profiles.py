import pytest

from audioformers.core import profiles


def test_default_is_book(monkeypatch):
    monkeypatch.delenv("BOOK_PROFILE", raising=False)
    assert profiles.get_profile() == "book"


@pytest.mark.parametrize("raw,expected", [("smoke", "smoke"), (" Paper ", "paper"), ("BOOK", "book"), ("", "book")])
def test_env_values(monkeypatch, raw, expected):
    monkeypatch.setenv("BOOK_PROFILE", raw)
    assert profiles.get_profile() == expected


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "fast")
    with pytest.raises(ValueError, match="'fast'.*smoke, book, paper"):
        profiles.get_profile()


def test_pick_follows_profile(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert profiles.pick(smoke=1, book=2, paper=3) == 1
    assert profiles.pick(smoke=1, book=2, paper=3, profile="paper") == 3
    with pytest.raises(ValueError):
        profiles.pick(smoke=1, book=2, paper=3, profile="tiny")
