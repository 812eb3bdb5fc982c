"""Unit-to-voxel matching, noise ceilings, the neural data loaders and the unit_voxel CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_checkpoint
from scipy.io import savemat

from toponets.analysis.unit_voxel import (
    correlation_matrix,
    corrected,
    match_units,
    neuron_to_neuron,
    one_to_one,
    subject_to_subject,
    summary,
    voxel_noise_ceiling,
)
from toponets.cli import unit_voxel as cli
from toponets.data.neural import (
    load_allen,
    load_nsd,
    parse_roi,
    repeat_layout,
    roi_mask,
    split_by_image,
    zscore_session,
)
from toponets.sheet import sheet_for

# ---------------------------------------------------------------- matching


def orthonormal(images: int, columns: int, seed: int = 0) -> np.ndarray:
    """(images, columns) zero-mean, mutually uncorrelated columns."""
    x = np.random.default_rng(seed).standard_normal((images, columns))
    q, _ = np.linalg.qr(x - x.mean(axis=0))
    return q - q.mean(axis=0)


def test_correlation_matrix_is_pearson():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((30, 3))
    b[:, 2] = 5.0  # constant: no r
    expected = np.corrcoef(a.T, b[:, :2].T)[:4, 4:]
    r = correlation_matrix(a, b)
    np.testing.assert_allclose(r[:, :2], expected[:, :2], atol=1e-12)
    assert np.isnan(r[:, 2]).all()


@pytest.mark.parametrize("matching", ["best", "hungarian"])
def test_noisy_copies_recover_their_units(matching):
    rng = np.random.default_rng(0)
    units_train, units_test = rng.standard_normal((300, 10)), rng.standard_normal((80, 10))
    perm = np.array([7, 2, 9, 0, 4, 5])  # voxel j copies unit perm[j]
    voxels_train = units_train[:, perm] + 0.3 * rng.standard_normal((300, 6))
    voxels_test = units_test[:, perm] + 0.3 * rng.standard_normal((80, 6))
    match = one_to_one(units_train, voxels_train, units_test, voxels_test, matching)
    np.testing.assert_array_equal(match.unit, perm)
    assert (match.r_test > 0.9).all() and (match.r_train > 0.9).all()


def test_hungarian_differs_from_best_on_a_shared_best_unit():
    a, b = orthonormal(50, 2).T
    voxels = np.stack([a, 0.9 * a + 0.4 * b], axis=1)  # both correlate best with unit a
    r = correlation_matrix(np.stack([a, b], axis=1), voxels)
    np.testing.assert_array_equal(match_units(r, "best"), [0, 0])
    np.testing.assert_array_equal(match_units(r, "hungarian"), [0, 1])  # 1 + 0.41 beats 0 + 0.91


def test_unit_to_voxel_hungarian_assigns_each_unit_at_most_one_voxel():
    """Finzi's / Margalit's mapping: one linear_sum_assignment of 1 - r, min(units, voxels) pairs."""
    r = np.array([[0.9, 0.8, 0.7, 0.1, 0.2], [0.1, 0.2, 0.3, 0.4, 0.5]])
    np.testing.assert_array_equal(match_units(r, "hungarian"), [0, -1, -1, -1, 1])
    np.testing.assert_array_equal(match_units(r, "best"), [0, 0, 0, 1, 1])


def test_constant_voxels_and_excluded_pairs_stay_unmatched():
    r = np.array([[0.5, np.nan, 0.9], [0.2, np.nan, 0.3]])
    exclude = np.array([[False, False, True], [False, False, True]])
    for matching in ("best", "hungarian"):
        np.testing.assert_array_equal(match_units(r, matching, exclude), [0, -1, -1])


def test_neuron_to_neuron_pairs_each_neuron_with_its_twin_never_itself():
    rng = np.random.default_rng(3)
    base_train, base_test = rng.standard_normal((200, 3)), rng.standard_normal((60, 3))

    def twins(x):
        return np.repeat(x, 2, axis=1) + 0.05 * rng.standard_normal((x.shape[0], 6))

    assert neuron_to_neuron(twins(base_train), twins(base_test)) > 0.95


# ---------------------------------------------------------------- ceilings and summary


def test_unit_to_voxel_summary_is_the_mean_corrected_r_over_the_ceiling():
    r = np.array([0.2, 0.4, np.nan, 0.3])
    nc = np.array([0.25, 0.64, 0.5, 0.0])  # the last voxel has no reliable signal: left out
    np.testing.assert_allclose(corrected(r, nc), [0.4, 0.5, np.nan, np.nan])
    scores = summary(r, nc, 0.9)
    assert scores == pytest.approx({"r_raw": 0.3, "r_corrected": 0.45, "ceiling": 0.9, "r_normalised": 0.5})
    uncorrected = summary(r, None, None)
    assert np.isnan(uncorrected["r_normalised"]) and uncorrected["r_corrected"] == pytest.approx(0.3)


def test_unit_to_voxel_noise_ceiling_is_nsd_ncsnr_formula():
    """NSD's ceiling of an n-trial mean: ncsnr^2 / (ncsnr^2 + 1/n), ncsnr = signal sd / noise sd."""
    rng = np.random.default_rng(0)
    images, repeats = 4000, 3
    noise_sd = np.array([0.5, 1.0, 2.0])  # signal sd 1
    trials = rng.standard_normal((images, 1, 3)) + noise_sd * rng.standard_normal((images, repeats, 3))
    trials[0, 1, :] = np.nan  # a missing repeat
    expected = 1 / (1 + noise_sd**2 / repeats)  # 0.92, 0.75, 0.43
    np.testing.assert_allclose(voxel_noise_ceiling(trials), expected, atol=0.02)


def simulated_subject(latents_train, latents_test, rng, trials=3):
    """Voxels that are a random permutation of the latent signals plus trial noise of sd 0.5 to 1.5, averaged
    over `trials`: (train means, test means, test trials)."""
    k = latents_train.shape[1]
    order, noise_sd = rng.permutation(k), rng.uniform(0.5, 1.5, k)

    def record(latents):
        return latents[:, None, order] + noise_sd * rng.standard_normal((latents.shape[0], trials, k))

    test_trials = record(latents_test)
    return record(latents_train).mean(axis=1), test_trials.mean(axis=1), test_trials


def test_unit_to_voxel_normalised_r_on_simulated_subjects():
    """Paper §3.4 ("R ... normalized to the noise ceiling across 8 subjects"), computed as Margalit et al. 2024:
    two subjects' voxels are noisy copies of the same 20 latent signals; each of the model's first 20 units
    correlates rho = 0.6 with one latent (10 more units are noise). A pair's test r is rho sqrt(NC_voxel), so the
    corrected model r is rho; between subjects it is sqrt(NC_t NC_s), corrected 1: normalised R = rho."""
    rng = np.random.default_rng(0)
    rho, k, train, test = 0.6, 20, 3000, 800
    latents_train, latents_test = rng.standard_normal((train, k)), rng.standard_normal((test, k))

    def units(latents):
        return np.hstack([rho * latents + np.sqrt(1 - rho**2) * rng.standard_normal(latents.shape),
                          rng.standard_normal((latents.shape[0], 10))])

    units_train, units_test = units(latents_train), units(latents_test)
    subjects = [simulated_subject(latents_train, latents_test, rng) for _ in range(2)]
    ceilings = [voxel_noise_ceiling(s[2]) for s in subjects]
    between = subject_to_subject(subjects[0][1], subjects[1][1], ceilings[0], ceilings[1])
    assert between == pytest.approx(1.0, abs=0.05)
    match = one_to_one(units_train, subjects[0][0], units_test, subjects[0][1])
    assert (match.unit >= 0).all() and (match.unit < k).all()  # every voxel found a latent-carrying unit
    scores = summary(match.r_test, ceilings[0], between)
    assert scores["r_raw"] < 0.55  # raw r is attenuated by the voxels' noise
    assert scores["r_corrected"] == pytest.approx(rho, abs=0.04)
    assert scores["r_normalised"] == pytest.approx(rho, abs=0.06)


# ---------------------------------------------------------------- Allen loader (real mirror)


def test_repeat_layout_recognises_both_orders():
    rng = np.random.default_rng(0)
    trials = rng.standard_normal((4, 3, 2))  # scenes, repeats, units
    means = trials.mean(axis=1)
    np.testing.assert_array_equal(repeat_layout(trials.reshape(12, 2), means, 3), trials)
    np.testing.assert_array_equal(repeat_layout(trials.transpose(1, 0, 2).reshape(12, 2), means, 3), trials)
    assert repeat_layout(rng.standard_normal((12, 2)), means, 3) is None


def test_allen_loader_on_the_mirror(mirror):
    directory = mirror / "neural" / "allen"
    data = load_allen(directory)
    assert data.train_images.shape == (100, 31, 31) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (18, 31, 31)
    assert data.train_responses.shape == (100, 212) and data.test_responses.shape == (18, 212)
    assert data.train_images.max() == 255 and data.train_images.min() == 0
    # the per-trial file is not the 18 test scenes x 50 repeats in either order (module docstring)
    big = np.load(directory / "Allen_test_output_big.npy")
    for layout in (big.reshape(18, 50, 212), big.reshape(50, 18, 212).transpose(1, 0, 2)):
        assert np.abs(layout.mean(axis=1) - data.test_responses).max() > 10
    assert data.test_trials is None


# ---------------------------------------------------------------- NSD index logic and files


def test_split_by_image_averages_repeats_and_holds_out_shared_images():
    trial_images = np.array([5, 3, 5, 7, 3, 5])
    betas = np.arange(12, dtype=float).reshape(6, 2)
    train_ids, train, test_ids, test, trials = split_by_image(trial_images, betas, test_ids=np.array([5, 9]))
    np.testing.assert_array_equal(train_ids, [3, 7])
    np.testing.assert_allclose(train, [[(2 + 8) / 2, (3 + 9) / 2], [6, 7]])
    np.testing.assert_array_equal(test_ids, [5])
    np.testing.assert_allclose(test, [[(0 + 4 + 10) / 3, (1 + 5 + 11) / 3]])
    np.testing.assert_array_equal(trials, [[[0, 1], [4, 5], [10, 11]]])


def test_split_by_image_pads_missing_repeats_with_nan():
    _, _, test_ids, test, trials = split_by_image(np.array([1, 2, 1, 0]), np.eye(4), test_ids=np.array([1, 2]))
    np.testing.assert_array_equal(test_ids, [1, 2])
    assert trials.shape == (2, 2, 4) and np.isnan(trials[1, 1]).all()
    np.testing.assert_allclose(test[1], [0, 1, 0, 0])


def test_roi_labels_and_masks():
    assert parse_roi("streams:ventral") == ("streams", [5])
    assert parse_roi("prf-visualrois:V1v+V1d") == ("prf-visualrois", [1, 2])
    assert parse_roi("lh.streams:5+6") == ("lh.streams", [5, 6])
    assert parse_roi("nsdgeneral") == ("nsdgeneral", None)
    with pytest.raises(ValueError, match="unknown label"):
        parse_roi("streams:vtc")
    labels = np.array([[-1, 0, 5], [5, 6, 1]])
    np.testing.assert_array_equal(roi_mask(labels, [5]), [[False, False, True], [True, False, False]])
    np.testing.assert_array_equal(roi_mask(labels, None), labels > 0)


def test_zscore_session_zeroes_constant_voxels():
    z = zscore_session(np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]]))
    np.testing.assert_allclose(z[:, 0], [-1.2247449, 0, 1.2247449], atol=1e-6)
    np.testing.assert_array_equal(z[:, 1], 0)


def fake_nsd(root, fmt: str, sessions: int = 2):
    """A tiny NSD release for subject 1 in the public layout: a 4x3x2 volume, 12 images, 1500 trials.

    Returns (raw int16 betas (X, Y, Z, trials), ROI labels, per-trial 0-based image ids, shared ids, stimuli).
    """
    nibabel = pytest.importorskip("nibabel")
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    trials = 750 * sessions
    subjectim = np.tile(np.arange(1, 13), (8, 1))  # column k -> 73k id k + 1 (1-based)
    masterordering = rng.integers(1, 13, size=(1, trials))
    sharedix = np.array([[2, 5, 11]])
    design = root / "nsddata/experiments/nsd"
    design.mkdir(parents=True)
    savemat(design / "nsd_expdesign.mat", {"masterordering": masterordering, "subjectim": subjectim,
                                           "sharedix": sharedix})
    labels = rng.integers(-1, 8, size=(4, 3, 2)).astype(np.int16)
    labels[0, 0, 0] = 5
    (root / "nsddata/ppdata/subj01/func1pt8mm/roi").mkdir(parents=True)
    nibabel.save(nibabel.Nifti1Image(labels, np.eye(4)), root / "nsddata/ppdata/subj01/func1pt8mm/roi/streams.nii.gz")
    raw = rng.integers(-3000, 3000, size=(4, 3, 2, trials)).astype(np.int16)
    folder = root / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    folder.mkdir(parents=True)
    for s in range(sessions):
        block = raw[..., 750 * s : 750 * (s + 1)]
        if fmt == "hdf5":
            with h5py.File(folder / f"betas_session{s + 1:02d}.hdf5", "w") as file:
                file["betas"] = block.T  # MATLAB-written: h5py sees (trials, Z, Y, X)
        else:
            nibabel.save(nibabel.Nifti1Image(block, np.eye(4)), folder / f"betas_session{s + 1:02d}.nii.gz")
    stimuli = rng.integers(0, 256, size=(12, 6, 6, 3), dtype=np.uint8)
    (root / "nsddata_stimuli/stimuli/nsd").mkdir(parents=True)
    with h5py.File(root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5", "w") as file:
        file["imgBrick"] = stimuli
    return raw, labels, masterordering.ravel() - 1, sharedix.ravel() - 1, stimuli


@pytest.mark.parametrize("fmt", ["nii", "hdf5"])
def test_load_nsd_reads_the_release_layout(tmp_path, fmt):
    raw, labels, image_ids, shared, stimuli = fake_nsd(tmp_path, fmt)
    data = load_nsd(tmp_path, subject=1, roi="streams:ventral")
    mask = labels == 5
    betas = np.concatenate([zscore_session(raw[mask][:, s * 750 : (s + 1) * 750].T / 300.0) for s in range(2)])
    test_ids = sorted(set(image_ids) & set(shared))
    train_ids = sorted(set(image_ids) - set(shared))
    for ids, images, responses in ((train_ids, data.train_images, data.train_responses),
                                   (test_ids, data.test_images, data.test_responses)):
        np.testing.assert_array_equal(images, stimuli[ids])
        expected = [betas[image_ids == i].mean(axis=0) for i in ids]
        np.testing.assert_allclose(responses, expected, atol=1e-5)
    repeats = max((image_ids == i).sum() for i in test_ids)
    assert data.voxels == mask.sum() and data.test_trials.shape == (len(test_ids), repeats, mask.sum())
    np.testing.assert_array_equal(data.test_ids, test_ids)
    first = image_ids == test_ids[0]
    np.testing.assert_allclose(data.test_trials[0, : first.sum()], betas[first], atol=1e-5)


def test_load_nsd_names_what_is_missing(tmp_path):
    fake_nsd(tmp_path, "nii")
    with pytest.raises(FileNotFoundError, match="ROI file"):
        load_nsd(tmp_path, subject=1, roi="floc-faces")
    with pytest.raises(ValueError, match="sessions"):
        load_nsd(tmp_path, subject=1, roi="streams", sessions=3)


# ---------------------------------------------------------------- CLI


def test_cli_end_to_end_on_the_allen_mirror(tmp_path, mirror):
    checkpoint = tmp_path / "tiny.safetensors"
    model = tiny_checkpoint(checkpoint)
    out, voxels = tmp_path / "scores.json", tmp_path / "voxels.csv"
    settings = json.dumps({"unit_voxel": {"res": 32, "batch_size": 64}})
    cli.main(["--checkpoint", str(checkpoint), "--neural", f"allen:{mirror / 'neural' / 'allen'}", "--settings", settings,
              "--device", "cpu", "--out", str(out), "--voxels", str(voxels)])
    report = json.loads(out.read_text())
    metrics = report["metrics"]
    units = model.layer4[1].conv2.out_channels
    assert metrics["n_units"] == units and metrics["n_voxels"] == 212
    assert report["layer"] == "layer4.1.conv2" and list(report["per_dataset"]) == ["allen_visp"]
    assert report["ceiling_method"] == "neuron-to-neuron" and report["matching"] == "hungarian"
    assert report["per_dataset"]["allen_visp"]["r_raw"] == metrics["r_raw"]  # one data set: its scores are the means
    assert -1 <= metrics["r_raw"] <= 1 and 0 < metrics["ceiling"] <= 1
    assert metrics["r_corrected"] == metrics["r_raw"]  # no trials: no voxel noise ceiling
    assert metrics["r_normalised"] == pytest.approx(metrics["r_raw"] / metrics["ceiling"])
    table = pd.read_csv(voxels)
    assert list(table.columns) == ["model", "tau", "seed", "dataset", "voxel", "unit", "row", "col", "r_train", "r_test",
                                   "noise_ceiling"]
    matched = table[table.unit >= 0]
    assert len(table) == 212 and len(matched) == min(units, 212) and matched.unit.is_unique
    positions = sheet_for(units).positions()[matched["unit"]]
    np.testing.assert_array_equal(matched[["row", "col"]].to_numpy(), positions)
    assert metrics["r_raw"] == pytest.approx(matched["r_test"].mean())


def test_cli_rejects_a_bad_neural_spec():
    with pytest.raises(SystemExit, match="subject=N"):
        cli.neural_data("nsd:/data/nsd,roi=streams")
    with pytest.raises(SystemExit, match="allen:DIR"):
        cli.neural_data("brainscore:x")


def test_unit_to_voxel_cli_ceiling_pairs_subjects_on_the_images_both_saw():
    """The subject-to-subject ceiling of each subject is the mean over the others, on their common shared images."""
    rng = np.random.default_rng(1)
    latents = rng.standard_normal((60, 8))
    ids = np.arange(60)
    keep = [np.sort(rng.choice(60, 50, replace=False)) for _ in range(3)]
    scored = []
    for s, kept in enumerate(keep):
        _, test, trials = simulated_subject(latents[kept], latents[kept], rng)
        scored.append(cli.Scored(f"s{s}", np.zeros(8), voxel_noise_ceiling(trials), ids[kept], test, np.nan, 8,
                                 pd.DataFrame()))
    assert cli.ceiling_kind("auto", scored) == "subject-to-subject"
    assert cli.ceiling_kind("auto", scored[:1]) == "none"  # one NSD subject: no second brain to compare with
    levels = cli.ceilings("subject-to-subject", scored, "hungarian")
    common = np.intersect1d(keep[0], keep[2])
    expected = subject_to_subject(scored[0].test_responses[np.isin(keep[0], common)],
                                  scored[2].test_responses[np.isin(keep[2], common)],
                                  scored[0].voxel_ceiling, scored[2].voxel_ceiling)
    _, other = cli.shared_responses(scored[0], scored[2])
    np.testing.assert_array_equal(other, scored[2].test_responses[np.isin(keep[2], common)])
    assert levels[0] == pytest.approx(np.mean([subject_to_subject(*cli.shared_responses(scored[0], scored[1]),
                                                                  scored[0].voxel_ceiling, scored[1].voxel_ceiling),
                                               expected]))  # fmt: skip
    with pytest.raises(SystemExit, match="several --neural subjects"):
        cli.ceiling_kind("subject-to-subject", scored[:1])
