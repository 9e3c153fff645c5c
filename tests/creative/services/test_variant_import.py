"""An operator imports historical designs; a bad file is refused whole with a clear message."""

import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from PIL import Image

from creative.models import Placement, StyleVariant, TagGroup

pytestmark = pytest.mark.django_db


def _write(tmp_path, text, name="variants.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_creates_live_variants_with_tags_and_control(tmp_path, capsys):
    (settings.MEDIA_ROOT / "history").mkdir()
    Image.new("RGB", (750, 300), (10, 80, 200)).save(settings.MEDIA_ROOT / "history" / "old-1.png")
    path = _write(tmp_path, "variant_key,default,headline,image,tag:button_color,tag:appeal\n"
                            "old-1,1,Save more,history/old-1.png,red,benefit|social_proof\n"
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


def test_image_files_must_lie_inside_media_root(tmp_path):
    Image.new("RGB", (75, 30), (200, 10, 10)).save(tmp_path / "outside.png")
    Image.new("RGB", (75, 30), (10, 200, 10)).save(settings.MEDIA_ROOT / "inside.png")
    path = _write(tmp_path, "variant_key,image\n"
                            "a,../outside.png\n"
                            f"b,{tmp_path / 'outside.png'}\n"
                            "c,/etc/hostname\n"
                            "d,missing.png\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("import_variants", str(path), "--placement", "p", "--create-placement")
    message = str(excinfo.value)
    for line in (2, 3, 4):
        assert f"line {line}, column image:" in message
    assert message.count("is outside MEDIA_ROOT") == 3
    assert "line 5, column image: file 'missing.png' not found under MEDIA_ROOT" in message
    assert not StyleVariant.objects.exists()

    path = _write(tmp_path, f"variant_key,image\nin-1,inside.png\nin-2,{settings.MEDIA_ROOT / 'inside.png'}\n")
    call_command("import_variants", str(path), "--placement", "p", "--create-placement")
    assert all(v.rendered_image.startswith("imported/") for v in StyleVariant.objects.all())


def test_an_http_image_is_served_verbatim_by_rank(tmp_path, api_client_with):
    url = "https://cdn.example.com/banners/old%201.png?v=3"
    path = _write(tmp_path, f"variant_key,default,image\nremote,1,{url}\nbad,0,https://exa mple.com/x.png\n")
    with pytest.raises(CommandError, match="line 3, column image: 'https://exa mple.com/x.png' is not a valid"):
        call_command("import_variants", str(path), "--placement", "history", "--create-placement")
    _write(tmp_path, f"variant_key,default,image\nremote,1,{url}\n")
    call_command("import_variants", str(path), "--placement", "history", "--create-placement")

    response = api_client_with("rank").post("/api/v1/rank", {"placement": "history", "user": {"id": "u-1"}},
                                            format="json")
    assert response.status_code == 200, response.content
    assert response.json()["items"][0]["image_url"] == url


def test_unknown_tag_groups_and_values_are_refused_naming_each(tmp_path):
    path = _write(tmp_path, "variant_key,tag:button_color,tag:presentation/badge,tag:season\n"
                            "a,red,ribbon,spring\n"
                            "b,teal,ribbon|star,\n"
                            "c,teal,,summer\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("import_variants", str(path), "--placement", "p", "--create-placement")
    message = str(excinfo.value)
    assert "line 2, column tag:presentation/badge: unknown tag group 'badge' with value(s) ribbon, star" in message
    assert "line 2, column tag:season: unknown tag group 'season' with value(s) spring, summer" in message
    assert "line 3, column tag:button_color: unknown value 'teal' for 'button_color'" in message
    assert message.count("teal") == 1  # named once, at its first line, not on every row
    assert "--create-tags declares it" in message
    assert not TagGroup.objects.filter(name__in=["badge", "season"]).exists()
    assert not StyleVariant.objects.exists()


def test_create_tags_declares_what_the_file_uses_in_the_layer_its_column_names(tmp_path, capsys):
    path = _write(tmp_path, "variant_key,tag:button_color,tag:presentation/badge,tag:season,tag:content/voice\n"
                            "a,red,ribbon,spring,calm\n"
                            "b,teal,ribbon|star,,\n")
    call_command("import_variants", str(path), "--placement", "p", "--create-placement", "--create-tags")

    badge, season, voice = (TagGroup.objects.get(name=n) for n in ("badge", "season", "voice"))
    assert (badge.layer, badge.multi_valued) == ("presentation", True)  # a row holds two values
    assert (season.layer, season.multi_valued) == ("content", False)  # no layer named: content
    assert voice.layer == "content"
    assert sorted(badge.values.values_list("value", flat=True)) == ["ribbon", "star"]
    assert "teal" in TagGroup.objects.get(name="button_color").values.values_list("value", flat=True)
    assert StyleVariant.objects.get(variant_key="b").tags == {"badge": ["ribbon", "star"], "button_color": ["teal"]}
    out = capsys.readouterr().out
    assert "Declared 3 tag group(s) and 5 value(s)" in out and "button_color=teal" in out


def test_create_tags_declares_nothing_when_the_file_is_refused(tmp_path):
    path = _write(tmp_path, "variant_key,tag:presentation/appeal,tag:season\na,benefit,spring\nb,,Not A Slug!\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("import_variants", str(path), "--placement", "p", "--create-placement", "--create-tags")
    message = str(excinfo.value)
    assert "column tag:presentation/appeal: 'appeal' is a content group here" in message
    assert "tag:season value 'Not A Slug!'" in message
    assert not TagGroup.objects.filter(name="season").exists()
    assert not Placement.objects.filter(slug="p").exists()


def test_the_taxonomy_moves_between_installs_as_yaml_or_json(tmp_path, capsys):
    call_command("import_variants", str(_write(tmp_path, "variant_key,tag:presentation/badge\na,ribbon|star\n")),
                 "--placement", "p", "--create-placement", "--create-tags")
    group = TagGroup.objects.get(name="badge")
    group.description = "A sticker on the corner"
    group.save()
    call_command("export_taxonomy", str(tmp_path / "taxonomy.yaml"))
    call_command("export_taxonomy", str(tmp_path / "taxonomy.json"))
    document = json.loads((tmp_path / "taxonomy.json").read_text())
    badge = next(g for g in document["groups"] if g["name"] == "badge")
    assert badge == {"name": "badge", "layer": "presentation", "multi_valued": True,
                     "description": "A sticker on the corner",
                     "values": [{"value": "ribbon", "description": ""}, {"value": "star", "description": ""}]}
    call_command("export_taxonomy")
    assert "name: badge" in capsys.readouterr().out  # YAML on standard output

    TagGroup.objects.filter(name="badge").delete()  # the other install lacks it
    call_command("import_taxonomy", str(tmp_path / "taxonomy.yaml"))
    assert "1 tag group(s) and 2 value(s) added" in capsys.readouterr().out
    moved = TagGroup.objects.get(name="badge")
    assert (moved.layer, moved.multi_valued, moved.description) == ("presentation", True, "A sticker on the corner")
    call_command("import_taxonomy", str(tmp_path / "taxonomy.json"))
    assert "0 tag group(s) and 0 value(s) added" in capsys.readouterr().out  # idempotent


def test_import_taxonomy_refuses_a_bad_or_contradicting_file_whole(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"groups": [
        {"name": "season", "layer": "content", "values": ["spring"]},
        {"name": "appeal", "layer": "presentation", "multi_valued": True, "values": ["benefit"]},
        {"name": "bad name", "values": []},
        {"name": "mood", "layer": "feelings", "values": ["calm", {"value": "x y"}]},
    ]}))
    with pytest.raises(CommandError) as excinfo:
        call_command("import_taxonomy", str(tmp_path / "bad.json"))
    message = str(excinfo.value)
    assert "group 'appeal': layer is content here, presentation in the file" in message
    assert "groups[2].name" in message
    assert "groups[3] (mood).layer: one of presentation, content" in message
    assert "groups[3] (mood).values[1]" in message
    assert not TagGroup.objects.filter(name="season").exists()

    (tmp_path / "broken.yaml").write_text("groups: [unclosed\n")
    with pytest.raises(CommandError, match="Not readable as YAML or JSON"):
        call_command("import_taxonomy", str(tmp_path / "broken.yaml"))
