"""Export to ONNX (fp32, static int8), verification, calibration and CPU profiling."""
