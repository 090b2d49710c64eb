"""Checks an ONNX file written by `fer export` with consumers fer did not
write: onnx's checker and shape inference, then OpenCV's DNN module, whose
probabilities on the given faces must match `fer predict`'s JSON within a
tolerance, at batch 1 and batch 8.

usage: export_onnx_check.py MODEL.onnx raw|preprocessed PREDICT.json TOL
The faces are the images named in PREDICT.json (48x48 grey PNGs)."""
import json
import sys

import cv2
import numpy as np
import onnx
from onnx import shape_inference

CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def check_onnx(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    out = inferred.graph.output[0]
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    meta = {p.key: p.value for p in model.metadata_props}
    print("  onnx %s: checker and strict shape inference accept %s (opset %d, %d nodes); output %s %s"
          % (onnx.__version__, path, model.opset_import[0].version, len(model.graph.node), out.name, dims))
    return meta


def prepared(faces, meta, mode):
    """The graph's input for grey 48x48 faces (uint8), as fer predict prepares them."""
    if meta["equalize"] == "true":
        faces = [cv2.equalizeHist(f) for f in faces]
    x = np.stack(faces).astype(np.float32)
    if mode == "raw":
        return x[:, None, :, :]
    size = int(meta["model_input_size"])
    up = [np.clip(np.rint(cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR)), 0, 255) for f in x]
    up = np.stack(up)[..., None]
    return np.ascontiguousarray(np.repeat(up, 3, axis=3) - CAFFE_BGR_MEAN)


def main():
    path, mode, predict_json, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    meta = check_onnx(path)
    pred = json.load(open(predict_json))
    classes = meta["class_names"].split(",")
    assert classes == pred["classes"], (classes, pred["classes"])
    names = [p["image"] for p in pred["predictions"]]
    want = np.array([[p["probabilities"][c] for c in classes] for p in pred["predictions"]], np.float64)
    faces = [cv2.imread(n, cv2.IMREAD_GRAYSCALE) for n in names]
    x = prepared(faces, meta, mode)
    net = cv2.dnn.readNetFromONNX(path)
    worst = 0.0
    for batch in (1, 8):
        got = []
        for first in range(0, len(faces), batch):
            net.setInput(x[first:first + batch])
            got.append(net.forward())
        got = np.concatenate(got).astype(np.float64)
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print("  OpenCV %s DNN, batch %d, %d faces: max |p_opencv - p_fer| = %.2e (tolerance %.0e);"
              " top classes agree: %s" % (cv2.__version__, batch, len(faces), diff, tol,
                                          bool((got.argmax(1) == want.argmax(1)).all())))
    print("  fer's probabilities: max %.4f, min %.2e, mean top-class %.4f"
          % (want.max(), want.min(), want.max(1).mean()))
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
