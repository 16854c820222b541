// The umbrella module: what the author of a ServerApp or ClientApp imports.
@_exported import PollenCore
@_exported import PollenKernels
@_exported import PollenML
@_exported import PollenSimulation
@_exported import PollenStrategy
