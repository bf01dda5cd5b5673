import App
import ArgumentParser

@main
struct Relance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relance",
        abstract: "Relance: the backend of a debt collection agency.",
        subcommands: [Serve.self, Migrate.self, Admin.self, Audit.self, Demo.self, TOTPCode.self]
    )
}
