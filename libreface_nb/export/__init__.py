"""Export to ONNX (fp32, static int8), verification, calibration, and the export command."""
