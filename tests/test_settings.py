"""The settings file: defaults, the [retrain] table, clear errors, and writing back only what
differs from the defaults."""

from __future__ import annotations

import pytest

from tvdesk.config import (
    RetrainSettings,
    Settings,
    SettingsError,
    load_settings,
    save_settings,
    settings_path,
    update_settings,
)


def test_no_file_means_the_defaults(isolated_home):
    settings = load_settings()
    assert settings.data_dir == isolated_home
    assert settings.auto_approve is False
    assert settings.retrain == RetrainSettings()


def test_the_retrain_table_sets_the_retraining_defaults(isolated_home):
    settings_path().write_text(
        'confidence = 0.4\nauto_approve = true\n\n[retrain]\nepochs = 4\nlabeler = "teacher"\n'
    )
    settings = load_settings()
    assert settings.confidence == 0.4 and settings.auto_approve
    assert settings.retrain.epochs == 4 and settings.retrain.labeler == "teacher"
    assert settings.retrain.label_budget == RetrainSettings().label_budget


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[retrain]\nepoch = 4\n", "unknown retraining setting(s) epoch"),
        ('[retrain]\nlabeler = "crowd"\n', "labeler must be one of"),
        ('auto_approve = "yes"\n', "auto_approve must be true or false"),
        ("confidnce = 0.3\n", "unknown setting(s) confidnce"),
        ("detect_every_max = 0\n", "detect_every_max must be from 1 to 10"),
        ("detect_every_max = 2.5\n", "detect_every_max must be a whole"),
    ],
)
def test_a_wrong_setting_names_the_file_and_the_key(isolated_home, text, says):
    settings_path().write_text(text)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(settings_path()) in str(error.value)
    assert says in str(error.value)


def test_saving_writes_only_what_differs_and_reads_back_the_same(isolated_home):
    settings = Settings(
        confidence=0.5, auto_approve=True, retrain=RetrainSettings(epochs=3, import_dir='a "b"')
    )
    path = save_settings(settings)
    text = path.read_text()
    assert "iou" not in text and "data_dir" not in text
    assert load_settings() == settings
    assert not list(isolated_home.glob("*.partial"))


def test_an_update_keeps_the_other_values_of_the_file(isolated_home):
    settings_path().write_text("[retrain]\nepochs = 7\n")
    update_settings(auto_approve=True)
    settings = load_settings()
    assert settings.auto_approve and settings.retrain.epochs == 7
