"""The serving machinery under the domain: runtimes (torch, ONNX Runtime, OpenVINO), the precision
ladder and its gate, the ONNX export, the CPU reader and the MPNet installer. Nothing here is imported at
package import time."""
