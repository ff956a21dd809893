//! The ACME controllers: Orders ([`orders`]), Challenges ([`challenges`]) and the HTTP-01
//! listener ([`http01`]) that answers for the Challenges being presented. CertificateRequests
//! for ACME issuers reach [`requests`] from the request controller.
pub mod challenges;
pub mod http01;
pub mod orders;
pub mod requests;

use std::sync::Arc;

use super::Context;

/// Runs the Order and Challenge controllers, and the HTTP-01 listener when an address is set.
pub async fn run(ctx: Arc<Context>) {
    let (store, challenges) = challenges::controller(ctx.clone());
    let orders = orders::controller(ctx.clone());
    let listener = async {
        if let Some(addr) = ctx.settings.acme_http01_listen {
            http01::serve(addr, store).await;
        }
    };
    // The listener runs until the process ends; the controllers end on SIGTERM, and so
    // does the process after them.
    let controllers = async { tokio::join!(challenges, orders) };
    tokio::pin!(controllers);
    tokio::select! {
        _ = &mut controllers => {}
        // The listener only returns when it could not bind: keep the controllers going.
        _ = listener => { controllers.await; }
    }
}
