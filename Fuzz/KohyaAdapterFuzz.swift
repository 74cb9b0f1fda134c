// libFuzzer entry for kohya / sd-scripts adapters: SafetensorsFile(bytes:) then LoRAAdapter.kohya,
// and on success the output path a squeeze takes (replacing every module's factors, weightsBytes()).
// Fuzz/run.sh links it against the AdapterFormats module built from every file under
// Sources/AdapterFormats, and compiles Fuzz/Support/FuzzSupport.swift beside it.
//
// The input is a whole .safetensors file. Invariants, besides no trap and no sanitizer report:
//   - every module's factors agree with its shapes (rank ≥ 1, A is rank × in, B is out × rank) and its
//     alpha and scale are finite; reading the factors either succeeds with that many values or names a
//     NaN/±Inf;
//   - replacing every module's factors with zeros at rank 1 (dtype unchanged, and once more forced to
//     F32, F16 or BF16, chosen by the input) and writing the weights succeeds, and the written bytes
//     read back as a kohya adapter: the same modules in the same order, each at rank 1 with alpha 1 and
//     scale 1, factors all zero, every passed-through tensor byte for byte, ss_network_dim and
//     ss_network_alpha (when present) "1", every other metadata value unchanged.
import AdapterFormats

func checkModules(_ adapter: LoRAAdapter) {
    fuzzCheck(!adapter.modules.isEmpty, "an adapter without modules")
    for m in adapter.modules {
        let (a, b) = (m.aTensor, m.bTensor)
        fuzzCheck(m.rank >= 1 && a.shape.first == m.rank && b.shape.count > 1 && b.shape[1] == m.rank,
                  "module \(m.name.debugDescription): rank \(m.rank), A \(a.shape), B \(b.shape)")
        fuzzCheck(m.inFeatures >= 1 && m.outFeatures >= 1, "module \(m.name.debugDescription): empty dimension")
        fuzzCheck(a.elementCount == m.rank * m.inFeatures && b.elementCount == m.outFeatures * m.rank,
                  "module \(m.name.debugDescription): factor shapes A \(a.shape), B \(b.shape) for \(m.outFeatures)×\(m.inFeatures) rank \(m.rank)")
        fuzzCheck(m.alpha.isFinite && m.scale.isFinite, "module \(m.name.debugDescription): alpha \(m.alpha), scale \(m.scale)")
        do throws(AdapterError) {
            let (fa, fb) = try adapter.factors(of: m)
            fuzzCheck(fa.count == a.elementCount && fb.count == b.elementCount, "module \(m.name.debugDescription): factor value counts")
        } catch {
            guard case .nonFinite = error else { fatalError("module \(m.name.debugDescription): factors refused: \(error)") }
        }
    }
}

func checkRoundTrip(_ adapter: LoRAAdapter, dtype: DType?) {
    let zeros = adapter.modules.map {
        ReplacementFactors(a: [Float](repeating: 0, count: $0.inFeatures), b: [Float](repeating: 0, count: $0.outFeatures), rank: 1)
    }
    let output: OutputAdapter
    let bytes: [UInt8]
    do throws(AdapterError) {
        output = try adapter.replacing(zeros, uniformRank: 1, dtype: dtype)
    } catch {
        fatalError("replacing(uniformRank: 1, dtype: \(String(describing: dtype))) failed: \(error)")
    }
    do throws(SafetensorsError) { bytes = try output.weightsBytes() } catch {
        fatalError("weightsBytes() failed: \(error)")
    }
    let file: SafetensorsFile
    let again: LoRAAdapter
    do {
        file = try SafetensorsFile(bytes: bytes)
        again = try LoRAAdapter.kohya(weights: file)
    } catch {
        fatalError("the written adapter does not read back: \(error)")
    }
    fuzzCheck(again.modules.map(\.name) == adapter.modules.map(\.name), "the written adapter has other modules")
    for (m, n) in zip(adapter.modules, again.modules) {
        let expectedType = dtype ?? (m.dtype.isFloatWritable ? m.dtype : .f32)
        fuzzCheck(n.rank == 1 && n.alpha == 1 && n.scale == 1, "module \(n.name.debugDescription): rank \(n.rank), alpha \(n.alpha), scale \(n.scale)")
        fuzzCheck(n.inFeatures == m.inFeatures && n.outFeatures == m.outFeatures && n.kind == m.kind,
                  "module \(n.name.debugDescription) changed shape: \(m.aTensor.shape)/\(m.bTensor.shape) → \(n.aTensor.shape)/\(n.bTensor.shape)")
        fuzzCheck(n.dtype == expectedType && n.bTensor.dtype == expectedType, "module \(n.name.debugDescription) written as \(n.dtype), expected \(expectedType)")
        do throws(AdapterError) {
            let (a, b) = try again.factors(of: n)
            fuzzCheck(a.allSatisfy { $0 == 0 } && b.allSatisfy { $0 == 0 }, "module \(n.name.debugDescription): factors not zero")
        } catch {
            fatalError("module \(n.name.debugDescription): written factors unreadable: \(error)")
        }
    }
    for entry in adapter.passthrough {
        guard let copy = file.header.entry(named: entry.name) else {
            fatalError("passed-through tensor \(entry.name.debugDescription) missing from the output")
        }
        fuzzCheck(copy.dtype == entry.dtype && copy.shape == entry.shape
                  && file.rawBytes(of: copy).elementsEqual(adapter.weights.rawBytes(of: entry)),
                  "passed-through tensor \(entry.name.debugDescription) changed")
    }
    let before = adapter.metadata, after = file.header.metadata
    fuzzCheck((before == nil) == (after == nil), "metadata appeared or vanished")
    if let before, let after {
        fuzzCheck(Set(before.keys) == Set(after.keys), "metadata keys changed")
        for (key, value) in before {
            let expected = key == "ss_network_dim" || key == "ss_network_alpha" ? "1" : value
            fuzzCheck(after[key] == expected, "metadata \(key.debugDescription) is \(String(describing: after[key])), expected \(expected.debugDescription)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKohyaAdapter(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let adapter: LoRAAdapter
    do {
        adapter = try LoRAAdapter.kohya(weights: try SafetensorsFile(bytes: bytes))
    } catch is SafetensorsError {
        return 0
    } catch is AdapterError {
        return 0
    } catch {
        fatalError("unexpected kind of error: \(error)")
    }
    checkModules(adapter)
    checkRoundTrip(adapter, dtype: nil)
    let forced: [DType] = [.f32, .f16, .bf16]
    checkRoundTrip(adapter, dtype: forced[Int(bytes.reduce(0) { $0 &+ $1 } % 3)])
    return 0
}
