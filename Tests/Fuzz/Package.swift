// swift-tools-version: 6.0
// libFuzzer targets for every parser of mptcpctl (`make fuzz`). Not part of the
// main build: every module here is compiled with -sanitize=fuzzer,address.
// `make fuzz` builds it in .build/fuzz, where `mptcpctl` is a link to the
// repository (a path dependency's identity is its directory's name).
import PackageDescription

let package = Package(
    name: "mptcpctl-fuzz",
    dependencies: [.package(path: "mptcpctl")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "FuzzEvents", dependencies: ["CFuzzDriver", .product(name: "MPTCPKit", package: "mptcpctl")]),
        .executableTarget(name: "FuzzSockDiag", dependencies: ["CFuzzDriver", .product(name: "MPTCPKit", package: "mptcpctl")]),
        .executableTarget(name: "FuzzPolicy", dependencies: ["CFuzzDriver", .product(name: "MPTCPPolicy", package: "mptcpctl")]),
        .executableTarget(name: "FuzzRequest", dependencies: ["CFuzzDriver", .product(name: "MPTCPAPI", package: "mptcpctl")]),
    ],
    swiftLanguageModes: [.v6]
)
