"""OpenCV reference for tests/test_data_image.c (Debian's python3-opencv).

  cv2_ref.py equalize IN OUT N H W          uint8 images in, cv2.equalizeHist out
  cv2_ref.py resize IN OUT N H W DH DW      float32 images in, cv2.resize INTER_LINEAR out

Raw files hold N images back to back. Exit 77 when cv2 or numpy is missing.
"""
import sys

try:
    import cv2
    import numpy as np
except ImportError as e:
    print(f"cv2_ref.py: {e}", file=sys.stderr)
    sys.exit(77)


def main():
    mode, src, dst = sys.argv[1:4]
    n, h, w = (int(v) for v in sys.argv[4:7])
    if mode == "equalize":
        images = np.fromfile(src, dtype=np.uint8).reshape(n, h, w)
        out = np.stack([cv2.equalizeHist(im) for im in images])
    elif mode == "resize":
        dh, dw = int(sys.argv[7]), int(sys.argv[8])
        images = np.fromfile(src, dtype=np.float32).reshape(n, h, w)
        out = np.stack([cv2.resize(im, (dw, dh), interpolation=cv2.INTER_LINEAR) for im in images])
    else:
        sys.exit(f"cv2_ref.py: unknown mode {mode}")
    out.tofile(dst)
    print(f"cv2_ref.py: {mode} of {n} images {h}x{w} with OpenCV {cv2.__version__}")


if __name__ == "__main__":
    main()
