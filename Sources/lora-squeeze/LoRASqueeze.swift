import ArgumentParser

@main
struct LoRASqueeze: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-squeeze",
        abstract: "Squeeze LoRA adapters to one deployment rank (optimal truncated SVD of each module's update).",
        discussion: """
            Reads PEFT adapter directories and kohya .safetensors files; writes the same format back,
            every module at one rank with its scale folded in, as vLLM and PEFT load it.
            """,
        version: "0.1.0",
        subcommands: [ServeCommand.self, SqueezeCommand.self, ExtractCommand.self, InspectCommand.self, ScrubCommand.self, BenchCommand.self, DemoCommand.self, TokenCommand.self, MigrateCommand.self, AnnealPlanCommand.self]
    )
}
