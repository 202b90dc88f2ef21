"""The SpeedPix routes of the emulator: the gateway-fronted API, tasks and workflows."""
