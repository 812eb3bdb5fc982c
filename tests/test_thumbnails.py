"""README thumbnails: scaled to the width asked, aspect kept, never enlarged."""

import numpy as np
import pytest
from PIL import Image

from toponets.cli import thumbnails


def test_thumbnails_scale_down_keep_aspect_and_never_enlarge(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 1200, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(rng.integers(0, 255, (50, 100, 3), dtype=np.uint8)).save(tmp_path / "small.png")
    thumbnails.main(["--width", "400", "--out-dir", str(tmp_path / "out"), str(tmp_path / "wide.png"),
                     str(tmp_path / "small.png")])
    assert Image.open(tmp_path / "out" / "wide.png").size == (400, 100)
    assert Image.open(tmp_path / "out" / "small.png").size == (100, 50)


def test_a_missing_figure_says_to_run_the_workflow(tmp_path):
    with pytest.raises(SystemExit, match="no such figure .*absent.png; run the workflow"):
        thumbnails.main(["--out-dir", str(tmp_path), str(tmp_path / "absent.png")])
