#!/usr/bin/env python3
"""Quantizes a float CNN (NCHW input "input", 1x3x224x224) to static QDQ the way
tests/models/check_quantized.py quantizes MobileNetV2: the pinned onnxruntime.quantization,
uint8 activations, int8 per-tensor weights, a fixed-seed 4-batch calibration reader.

  quantize_qdq.py IN.onnx OUT.onnx"""
import sys

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static


class Reader(CalibrationDataReader):
    def __init__(self, n=4, seed=11):
        rng = np.random.default_rng(seed)
        self.items = iter([{"input": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self.items, None)


if __name__ == "__main__":
    quantize_static(sys.argv[1], sys.argv[2], Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
