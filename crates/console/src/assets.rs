//! The console's stylesheet and script, embedded in the binary at build time (no Node, no files
//! to install beside it).

use crate::reply::Reply;

const CSS: &[u8] = include_bytes!("../assets/console.css");
const JS: &[u8] = include_bytes!("../assets/console.js");
const ICON: &[u8] = include_bytes!("../assets/icon.svg");

/// The asset at `path`, if it is one.
pub(crate) fn serve(path: &str) -> Option<Reply> {
    match path {
        "/assets/console.css" => Some(Reply::asset("text/css; charset=utf-8", CSS)),
        "/assets/console.js" => Some(Reply::asset("text/javascript; charset=utf-8", JS)),
        "/favicon.ico" => Some(Reply::asset("image/svg+xml", ICON)),
        _ => None,
    }
}
