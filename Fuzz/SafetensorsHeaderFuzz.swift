// libFuzzer entry for SafetensorsHeader.parse and what is built on it (SafetensorsFile, its float
// reads, SafetensorsWriter). Fuzz/run.sh links it against the AdapterFormats module built from every
// file under Sources/AdapterFormats, and compiles Fuzz/Support/FuzzSupport.swift beside it.
//
// The input is a whole .safetensors file, so real files are seeds as they are. Each input is parsed
// with the default limits and with small ones (header 4096 bytes, 8 tensors, rank 3). Invariants,
// besides no trap and no sanitizer report:
//   - small limits only add refusals: when they accept, the header equals the default limits' one;
//   - on success: tensors sorted and contiguous from 0 to the end of the data section, every byteRange
//     inside the data section and as long as shape × dtype width, names unique and found by
//     `entry(named:)`, counts and ranks within the limits;
//   - `SafetensorsFile(bytes:)` agrees with `parse` (the same header, or the same error);
//   - every float-readable tensor reads as elementCount values through `doubles` and `floats` (the
//     same values: widening F32/F16/BF16 to Double is exact) and `firstNonFinite` is the first NaN/±Inf;
//     other dtypes are refused with `notFloatReadable`;
//   - `SafetensorsWriter.encode` of the parsed tensors (their raw bytes) succeeds, and parsing that
//     gives the same tensors (names, dtypes, shapes, ranges), the same metadata and the same data section.
import AdapterFormats

func parseHeader(_ bytes: [UInt8], _ limits: SafetensorsLimits) -> Result<SafetensorsHeader, SafetensorsError> {
    do throws(SafetensorsError) { return .success(try SafetensorsHeader.parse(bytes, limits: limits)) } catch {
        return .failure(error)
    }
}

func checkLayout(_ header: SafetensorsHeader, fileLength: Int, limits: SafetensorsLimits) {
    let dataLength = fileLength - header.dataOffset
    fuzzCheck(header.dataOffset >= 8 && dataLength >= 0, "data offset \(header.dataOffset) outside a \(fileLength)-byte file")
    fuzzCheck(header.tensors.count <= limits.maxTensorCount, "\(header.tensors.count) tensors past the limit")
    var end = 0
    var names = Set<[UInt8]>()
    for entry in header.tensors {
        fuzzCheck(entry.byteRange.lowerBound == end, "tensor \(entry.name.debugDescription) starts at \(entry.byteRange.lowerBound), not \(end)")
        fuzzCheck(entry.byteRange.upperBound <= dataLength, "tensor \(entry.name.debugDescription) ends past the data section")
        fuzzCheck(entry.shape.count <= limits.maxRank, "tensor \(entry.name.debugDescription) has rank \(entry.shape.count)")
        fuzzCheck(entry.shape.allSatisfy { $0 >= 0 }, "tensor \(entry.name.debugDescription) has a negative dimension")
        let (bytes, overflow) = entry.elementCount.multipliedReportingOverflow(by: entry.dtype.byteWidth)
        fuzzCheck(!overflow && bytes == entry.byteRange.count, "tensor \(entry.name.debugDescription): range \(entry.byteRange) for \(entry.dtype) \(entry.shape)")
        fuzzCheck(!entry.name.isEmpty && !entry.name.utf8.contains(0), "tensor name \(entry.name.debugDescription)")
        fuzzCheck(names.insert(Array(entry.name.utf8)).inserted, "tensor \(entry.name.debugDescription) twice")
        fuzzCheck(header.entry(named: entry.name) == entry, "entry(named: \(entry.name.debugDescription)) finds another tensor")
        end = entry.byteRange.upperBound
    }
    fuzzCheck(end == dataLength, "tensors end at \(end), the data section at \(dataLength)")
}

func checkReads(_ file: SafetensorsFile) {
    for entry in file.tensors {
        let raw = file.rawBytes(of: entry)
        fuzzCheck(raw.count == entry.byteRange.count, "rawBytes of \(entry.name.debugDescription) is \(raw.count) bytes")
        guard entry.dtype.isFloatReadable else {
            do throws(SafetensorsError) {
                _ = try file.doubles(entry)
                fuzzCheck(false, "\(entry.dtype) tensor read as doubles")
            } catch {
                fuzzCheck(error == .notFloatReadable(tensor: entry.name, dtype: entry.dtype), "unexpected error \(error)")
            }
            continue
        }
        let doubles: (values: [Double], firstNonFinite: Int?)
        let floats: [Float]
        do throws(SafetensorsError) {
            doubles = try file.doubles(entry)
            floats = try file.floats(entry)
        } catch {
            fuzzCheck(false, "float-readable \(entry.dtype) tensor \(entry.name.debugDescription) refused: \(error)")
            return
        }
        let n = entry.elementCount
        fuzzCheck(doubles.values.count == n, "doubles gave \(doubles.values.count) values for \(n) elements")
        fuzzCheck(floats.count == n, "floats gave \(floats.count) values for \(n) elements")
        let firstBad = doubles.values.firstIndex { !$0.isFinite }
        fuzzCheck(doubles.firstNonFinite == firstBad, "firstNonFinite \(String(describing: doubles.firstNonFinite)), actually \(String(describing: firstBad))")
        if entry.dtype != .f64 {
            for i in 0..<n {
                let (d, f) = (doubles.values[i], Double(floats[i]))
                fuzzCheck(d == f || (d.isNaN && f.isNaN), "element \(i) of \(entry.name.debugDescription): doubles \(d), floats \(f)")
            }
        }
    }
}

func checkRoundTrip(_ file: SafetensorsFile, _ bytes: [UInt8]) {
    let tensors = file.tensors.map {
        TensorToWrite(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: Array(file.rawBytes(of: $0)))
    }
    let encoded: [UInt8]
    do throws(SafetensorsError) {
        encoded = try SafetensorsWriter.encode(tensors, metadata: file.header.metadata)
    } catch {
        fuzzCheck(false, "re-encoding a parsed file failed: \(error)")
        return
    }
    switch parseHeader(encoded, SafetensorsLimits()) {
    case let .failure(error):
        fuzzCheck(false, "the writer's output does not parse: \(error)")
    case let .success(again):
        fuzzCheck(again.tensors == file.tensors, "the re-encoded file has other tensors")
        fuzzCheck(again.metadata == file.header.metadata, "the re-encoded file has other metadata")
        fuzzCheck(encoded[again.dataOffset...].elementsEqual(bytes[file.header.dataOffset...]),
                  "the re-encoded file has another data section")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensorsHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = SafetensorsLimits()
    let small = SafetensorsLimits(maxHeaderBytes: 4096, maxTensorCount: 8, maxRank: 3)

    let parsed = parseHeader(bytes, limits)
    let parsedSmall = parseHeader(bytes, small)
    if case let .success(header) = parsedSmall {
        checkLayout(header, fileLength: bytes.count, limits: small)
        fuzzCheck(parsed == .success(header), "small limits accepted a file that the defaults read differently: \(parsed)")
    }
    if case .failure = parsed, case .success = parsedSmall {
        fuzzCheck(false, "small limits accepted a file that the defaults refused")
    }

    let file: SafetensorsFile
    do {
        file = try SafetensorsFile(bytes: bytes, limits: limits)
    } catch let error as SafetensorsError {
        fuzzCheck(parsed == .failure(error), "SafetensorsFile(bytes:) threw \(error), parse gave \(parsed)")
        return 0
    } catch {
        fuzzCheck(false, "SafetensorsFile(bytes:) threw a \(type(of: error)): \(error)")
        return 0
    }
    fuzzCheck(parsed == .success(file.header), "SafetensorsFile(bytes:) read a header that parse did not: \(parsed)")
    checkLayout(file.header, fileLength: bytes.count, limits: limits)
    checkReads(file)
    checkRoundTrip(file, bytes)
    return 0
}
