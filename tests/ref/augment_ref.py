"""Compares `fer augment` with Keras 2.2's augmentation done by scipy.

keras-preprocessing 1.1.x apply_affine_transform, written out here from its
formulas: the matrix rotation . shift . shear . zoom, centred at
(h/2 + 0.5, w/2 + 0.5) by transform_matrix_offset_center, applied with
scipy.ndimage.affine_transform(order=1, mode=fill_mode, cval=cval) (the
matrix maps output to input coordinates), then the horizontal flip.

  augment_ref.py FER_BINARY WORKDIR [FER2013_CSV_GZ]

Prints one line per case and exits 1 if any pixel is more than 1 grey level
away from the reference; 77 when scipy or cv2 is missing.
"""
import gzip
import os
import subprocess
import sys

try:
    import cv2
    import numpy as np
    from scipy import ndimage
except ImportError as e:
    print(f"augment_ref.py: skipped: {e}")
    sys.exit(77)


def transform_matrix_offset_center(matrix, x, y):
    o_x = float(x) / 2 + 0.5
    o_y = float(y) / 2 + 0.5
    offset_matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset_matrix = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return np.dot(np.dot(offset_matrix, matrix), reset_matrix)


def keras_apply(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, flip=False, fill_mode="nearest", cval=0.0):
    """x: 2-D float32 image (rows, cols)."""
    transform_matrix = None
    if theta != 0:
        theta = np.deg2rad(theta)
        transform_matrix = np.array([[np.cos(theta), -np.sin(theta), 0],
                                     [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    if tx != 0 or ty != 0:
        shift_matrix = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        transform_matrix = shift_matrix if transform_matrix is None else np.dot(transform_matrix, shift_matrix)
    if shear != 0:
        shear = np.deg2rad(shear)
        shear_matrix = np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
        transform_matrix = shear_matrix if transform_matrix is None else np.dot(transform_matrix, shear_matrix)
    if zx != 1 or zy != 1:
        zoom_matrix = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
        transform_matrix = zoom_matrix if transform_matrix is None else np.dot(transform_matrix, zoom_matrix)
    if transform_matrix is not None:
        h, w = x.shape
        transform_matrix = transform_matrix_offset_center(transform_matrix, h, w)
        x = ndimage.affine_transform(x, transform_matrix[:2, :2], transform_matrix[:2, 2], order=1,
                                     mode=fill_mode, cval=cval)
    if flip:
        x = x[:, ::-1]
    return x


def test_images(csv_path):
    images = {}
    if csv_path and os.path.exists(csv_path):
        with gzip.open(csv_path, "rt") as f:
            f.readline()
            row = f.readline().strip().split(",")
        images["fer_row1_48x48"] = np.array(row[1].split(), dtype=np.uint8).reshape(48, 48)
    else:
        print("real FER2013 image: skipped (data set absent)")
    # Non-square, asymmetric, textured: catches swapped axes and centres.
    yy, xx = np.mgrid[0:40, 0:56]
    rng = np.random.default_rng(5)
    pattern = 30 + 3 * xx + 2 * yy + 40 * ((xx // 7 + yy // 5) % 2) + rng.integers(0, 20, size=xx.shape)
    pattern[5:12, 3:9] = 250
    images["pattern_40x56"] = np.clip(pattern, 0, 255).astype(np.uint8)
    return images


TRANSFORMS = [
    dict(theta=30, tx=5, ty=-3, shear=10, zx=1.2, zy=0.9, flip=True),
    dict(theta=-40, zx=0.6, zy=0.7),
    dict(tx=-9.5, ty=12.25),
    dict(shear=-25, zx=1.4, zy=1.3),
    dict(theta=17.3, tx=2.2, ty=0.7, shear=4.1, zx=0.83, zy=1.17),
    dict(tx=5, ty=-3, flip=True),
    dict(theta=90),
]
FILLS = [("nearest", 0), ("constant", 0), ("constant", 77), ("reflect", 0), ("wrap", 0)]


def run_fer(fer, src, dst, t, fill, cval, equalize=False):
    args = [fer, "augment", "--in", src, "--out", dst, "--fill", fill, "--cval", str(cval)]
    for key in ("theta", "tx", "ty", "shear", "zx", "zy"):
        if key in t:
            args += [f"--{key}", repr(float(t[key]))]
    if t.get("flip"):
        args.append("--flip-h")
    if equalize:
        args.append("--equalize")
    subprocess.run(args, check=True)
    out = cv2.imread(dst, cv2.IMREAD_UNCHANGED)
    assert out is not None and out.dtype == np.uint8 and out.ndim == 2, f"{dst}: not a grey 8-bit PNG"
    return out


def compare_transforms(fer, work, name, img):
    src = os.path.join(work, f"{name}.png")
    cv2.imwrite(src, img)
    failures = 0
    for i, t in enumerate(TRANSFORMS):
        for fill, cval in FILLS:
            out = run_fer(fer, src, os.path.join(work, "out.png"), t, fill, cval)
            ref = keras_apply(img.astype(np.float32), fill_mode=fill, cval=cval, **t)
            diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
            ok = out.shape == ref.shape and diff.max() <= 1.0
            failures += not ok
            print(f"{name} transform {i} {t} fill {fill} cval {cval}: max |fer - scipy| {diff.max():.3f}, "
                  f"{int((diff > 0.5).sum())} pixels > 0.5 (tol 1) {'ok' if ok else 'FAIL'}")
    return failures


def compare_equalize(fer, work, name, img):
    src = os.path.join(work, f"{name}.png")
    cv2.imwrite(src, img)
    eq = cv2.equalizeHist(img)
    out = run_fer(fer, src, os.path.join(work, "eq.png"), {}, "nearest", 0, equalize=True)
    exact = np.array_equal(out, eq)
    t = TRANSFORMS[0]
    out2 = run_fer(fer, src, os.path.join(work, "eq2.png"), t, "reflect", 0, equalize=True)
    ref = keras_apply(eq.astype(np.float32), fill_mode="reflect", **t)
    d = np.abs(out2 - ref).max()
    print(f"{name} --equalize: equal to cv2.equalizeHist: {exact}; --equalize + transform 0: max diff {d:.3f} (tol 1)")
    return (not exact) + (d > 1.0)


def main():
    fer, work = sys.argv[1], sys.argv[2]
    csv_path = sys.argv[3] if len(sys.argv) > 3 else None
    failures = 0
    for name, img in test_images(csv_path).items():
        failures += compare_transforms(fer, work, name, img)
        failures += compare_equalize(fer, work, name, img)
    print(f"augment_ref.py: {failures} failing comparisons")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
