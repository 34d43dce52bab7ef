"""minigrad/files.py: atomic writes (a temporary name in the same folder, then a rename)."""

import pytest

from minigrad.files import atomic_path


def test_the_content_appears_under_the_final_name_only_at_the_end(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with atomic_path(target) as temporary:
        temporary.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block succeeds
        assert temporary.parent == tmp_path and temporary.name.startswith(".metrics.")
        assert temporary.suffix == ".json"  # savefig picks the format from the suffix
    assert target.read_text() == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


@pytest.mark.parametrize("stop", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path, stop):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old picture")
    with pytest.raises(type(stop)), atomic_path(target) as temporary:
        temporary.write_bytes(b"half a pict")
        raise stop
    assert target.read_bytes() == b"old picture"
    assert [path.name for path in tmp_path.iterdir()] == ["curves.png"]


def test_a_failure_before_anything_was_written_is_fine(tmp_path):
    with pytest.raises(ValueError, match="no data"), atomic_path(tmp_path / "compare.json"):
        raise ValueError("no data")
    assert list(tmp_path.iterdir()) == []


def test_two_temporary_names_never_collide(tmp_path):
    with atomic_path(tmp_path / "a.json") as first, atomic_path(tmp_path / "a.json") as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert (tmp_path / "a.json").read_text() == "1"  # the outer block finished last
