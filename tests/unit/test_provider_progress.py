"""Reading progress from provider answers: Replicate's tqdm log lines and fal's log entries."""

from __future__ import annotations

from artfactory.providers.fal import log_messages
from artfactory.providers.replicate import last_log_line, parse_progress, seed_from_logs

# What a diffusers model on Replicate prints: tqdm redraws its bar in place with carriage returns.
TQDM_LOGS = (
    "Using seed: 31337\n"
    "Loading pipeline components...: 100%|██████████| 7/7 [00:01<00:00,  5.21it/s]\n"
    "  0%|          | 0/28 [00:00<?, ?it/s]\r"
    "  4%|▎         | 1/28 [00:00<00:03,  7.12it/s]\r"
    " 46%|████▋     | 13/28 [00:01<00:01,  9.80it/s]"
)


def test_the_last_tqdm_bar_is_the_progress() -> None:
    assert parse_progress(TQDM_LOGS) == 46.0
    assert last_log_line(TQDM_LOGS) == "46%|████▋     | 13/28 [00:01<00:01,  9.80it/s]"
    assert seed_from_logs(TQDM_LOGS) == 31337


def test_fractional_and_complete_bars() -> None:
    assert parse_progress("  7.5%|▊ | 3/40\r100%|██████████| 40/40 [00:04<00:00]\n") == 100.0
    assert parse_progress(" 12.5%|█▎        | 1/8") == 12.5


def test_no_bar_means_no_percentage() -> None:
    assert parse_progress(None) is None
    assert parse_progress("") is None
    # A percentage in prose is not a progress bar.
    assert parse_progress("denoising at 50% strength, guidance 7.5") is None
    assert last_log_line("\n\r  \n") == ""


def test_fal_log_entries_and_plain_text() -> None:
    entries = [{"message": "Loading model", "level": "INFO", "timestamp": "2024-05-01T10:00:00Z"},
               {"message": " 75%|###  | 3/4 [00:01<00:00]", "level": "INFO"}, {"message": ""}, "raw line"]
    assert log_messages(entries) == ["Loading model", "75%|###  | 3/4 [00:01<00:00]", "raw line"]
    assert parse_progress("\n".join(log_messages(entries))) == 75.0
    assert log_messages("first\n\nsecond\n") == ["first", "second"]
    assert log_messages(None) == []
