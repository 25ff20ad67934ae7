//! `/` and `/assets/{*file}`: the dashboard, one HTML page with its script,
//! its stylesheet and the vendored chart library (uPlot), all embedded in the
//! binary so that it works offline and a release is one file.
//!
//! The page reads the public REST API like any other client; it has no
//! endpoint of its own. The set of files is fixed at compile time, so a
//! request can only ever name one of them: an unknown name is a 404.

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::ApiError;

/// One embedded file: its name under `/assets/`, media type and content.
#[derive(Debug)]
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/dashboard.js"),
    },
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/dashboard.css"),
    },
    Asset {
        name: "vendor/uplot/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "vendor/uplot/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uplot/uPlot.min.css"),
    },
    Asset {
        name: "vendor/uplot/LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uplot/LICENSE"),
    },
];

/// The page itself.
const INDEX: &str = include_str!("../../assets/index.html");

pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}

fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `GET /assets/{*file}`. `no-cache` makes the browser revalidate, so a new
/// binary's page is never mixed with an old binary's script.
pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    let Some(asset) = asset(&name) else {
        return Err(ApiError::NotFound {
            code: "no_such_asset",
            message: format!("no dashboard file {name:?}"),
        });
    };
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/assets/…` the page names in a `src` or `href`.
    fn referenced_assets(html: &str) -> Vec<&str> {
        let mut names = Vec::new();
        for attr in ["src=\"/assets/", "href=\"/assets/"] {
            let mut rest = html;
            while let Some(at) = rest.find(attr) {
                rest = &rest[at + attr.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                names.push(&rest[..end]);
            }
        }
        names
    }

    #[test]
    fn every_file_the_page_names_is_embedded() {
        let names = referenced_assets(INDEX);
        assert!(
            names.contains(&"dashboard.js") && names.contains(&"vendor/uplot/uPlot.iife.min.js"),
            "the page loads its script and the chart library: {names:?}"
        );
        for name in names {
            assert!(asset(name).is_some(), "the page names {name}, not embedded");
        }
    }

    #[test]
    fn the_page_loads_nothing_from_another_host() {
        for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!INDEX.contains(attr), "{attr}");
        }
    }

    #[test]
    fn the_chart_library_ships_with_its_licence() {
        let licence = asset("vendor/uplot/LICENSE")
            .map(|a| a.body)
            .unwrap_or_default();
        assert!(String::from_utf8_lossy(licence).contains("MIT License"));
    }

    #[tokio::test]
    async fn an_unknown_file_is_a_404_and_a_known_one_has_its_media_type() {
        let missing = file(Path("../Cargo.toml".to_string())).await;
        assert!(matches!(missing, Err(ApiError::NotFound { .. })));
        let css = file(Path("dashboard.css".to_string()))
            .await
            .map_err(|e| e.to_string());
        let css = css.expect("dashboard.css is embedded");
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }
}
