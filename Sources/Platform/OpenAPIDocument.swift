import Foundation
import HTTPTypes
import Hummingbird
import Web
import Yams

/// The API description: `Docs/openapi.yaml` is the source, served as JSON.
public struct OpenAPIDocument: Sendable {
    /// The document as JSON bytes.
    public let json: [UInt8]
    /// `METHOD /path` for every operation, with `{param}` placeholders.
    public let operations: Set<String>

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads and converts the YAML document.
    /// - Throws: `Invalid` when the file is missing or is not an OpenAPI 3.1 document.
    public init(yamlFile: URL) throws {
        guard let text = try? String(contentsOf: yamlFile, encoding: .utf8) else {
            throw Invalid(description: "cannot read \(yamlFile.path)")
        }
        guard let document = try Yams.load(yaml: text) as? [String: Any],
            let version = document["openapi"] as? String, version.hasPrefix("3.1"),
            let paths = document["paths"] as? [String: Any]
        else {
            throw Invalid(description: "\(yamlFile.lastPathComponent) is not an OpenAPI 3.1 document")
        }
        var operations: Set<String> = []
        for (path, item) in paths {
            guard let methods = item as? [String: Any] else { continue }
            for method in methods.keys where ["get", "put", "post", "delete", "patch", "head", "options"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        self.operations = operations
        self.json = Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
    }

    func add(to routes: ModuleRoutes) {
        let json = self.json
        routes.open(.get, "/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
    }
}
