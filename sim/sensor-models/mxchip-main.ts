// Entry for the simulated MXChip-like board: its part models first, then the unchanged firmware.
import "./mxchip-board"
import "../../src/main"
