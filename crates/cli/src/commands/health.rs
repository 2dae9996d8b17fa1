//! `hush health`: whether a server answers, for a container's HEALTHCHECK,
//! a service manager or a load balancer's probe. It sends no token.

use crate::args::HealthArgs;
use crate::output;

pub(crate) async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let client = super::anonymous_client(&args.conn)?;
    let answer = tokio::time::timeout(args.timeout, client.health())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "hush at {} did not answer within {}",
                client.addr(),
                humantime::format_duration(args.timeout)
            )
        })?
        // Whatever the server answered (a 404 from something that is not
        // hush, say), the check failed: exit 1, not the code of that status.
        .map_err(|e| anyhow::anyhow!("the health check failed: {e}"))?;
    if answer["status"] != "ok" {
        anyhow::bail!("hush at {} is not healthy: status {}", client.addr(), answer["status"]);
    }
    if args.json {
        output::json(&answer);
    } else {
        println!("ok: hush {} at {}", answer["version"].as_str().unwrap_or("?"), client.addr());
    }
    Ok(())
}
