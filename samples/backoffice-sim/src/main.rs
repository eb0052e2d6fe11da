//! `sportello-backoffice-sim`: the simulator as a process, for the demo.

use clap::Parser;
use sportello_backoffice_sim::Behaviour;
use sportello_shared::config::Settings;
use sportello_shared::topology::Topology;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "sportello-backoffice-sim",
    about = "Answers every back office's queue"
)]
struct Cli {
    /// Configuration file, as for `sportello`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The behaviour per back office and practice type.
    #[arg(long, default_value = "samples/backoffice-sim.toml")]
    behaviour: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    sportello_shared::telemetry::init(&settings.log);
    let behaviour = Behaviour::load(&cli.behaviour)?;
    let topology =
        Topology::load(&settings.broker.topology_file)?.namespaced(&settings.broker.namespace);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        stop.cancel();
    });
    sportello_backoffice_sim::run(&settings.broker, &topology, behaviour, shutdown).await
}
