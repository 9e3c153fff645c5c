"""An operator imports historical designs; a bad file is refused whole with a clear message."""

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from creative.models import Placement, StyleVariant

pytestmark = pytest.mark.django_db


def _write(tmp_path, text, name="variants.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_creates_live_variants_with_tags_and_control(tmp_path, capsys):
    Image.new("RGB", (750, 300), (10, 80, 200)).save(tmp_path / "old-1.png")
    path = _write(tmp_path, "variant_key,default,headline,image,tag:button_color,tag:appeal\n"
                            "old-1,1,Save more,old-1.png,red,benefit|social_proof\n"
                            "old-2,0,理财首选,,blue,authority\n")
    call_command("import_variants", str(path), "--placement", "home", "--create-placement")
    placement = Placement.objects.get(slug="home")
    variants = {v.variant_key: v for v in StyleVariant.objects.filter(placement=placement)}
    assert set(variants) == {"old-1", "old-2"}
    assert all(v.status == "live" for v in variants.values())
    assert variants["old-1"].tags == {"appeal": ["benefit", "social_proof"], "button_color": ["red"]}
    assert variants["old-1"].rendered_image.startswith("imported/")
    assert placement.control_variant == variants["old-1"]
    assert "2 variants created" in capsys.readouterr().out


def test_bad_row_names_line_and_column_and_nothing_is_imported(tmp_path):
    Placement.objects.create(slug="home", name="Home", width=750, height=300)
    path = _write(tmp_path, "variant_key,tag:button_color\nok-1,red\nok-2,chartreuse\n,blue\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("import_variants", str(path), "--placement", "home")
    message = str(excinfo.value)
    assert "Nothing was imported" in message
    assert "line 3, column tag:button_color" in message and "chartreuse" in message
    assert "line 4, column variant_key: required" in message
    assert StyleVariant.objects.count() == 0


def test_unknown_placement_without_create_flag_is_refused(tmp_path):
    path = _write(tmp_path, "variant_key\na\n")
    with pytest.raises(CommandError, match="Unknown placement 'nowhere'"):
        call_command("import_variants", str(path), "--placement", "nowhere")


def test_two_control_rows_are_refused(tmp_path):
    path = _write(tmp_path, "variant_key,default\na,1\nb,1\n")
    with pytest.raises(CommandError, match="only one row may be the control"):
        call_command("import_variants", str(path), "--placement", "p", "--create-placement")
    assert not Placement.objects.filter(slug="p").exists()


def test_reimport_updates_instead_of_duplicating(tmp_path):
    path = _write(tmp_path, "variant_key,tag:button_color\na,red\n")
    call_command("import_variants", str(path), "--placement", "p", "--create-placement")
    path = _write(tmp_path, "variant_key,tag:button_color\na,blue\n")
    call_command("import_variants", str(path), "--placement", "p")
    assert StyleVariant.objects.get(variant_key="a").tags == {"button_color": ["blue"]}
    assert StyleVariant.objects.count() == 1
