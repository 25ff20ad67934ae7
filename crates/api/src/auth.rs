//! Who may call what: API keys sent as `Authorization: Bearer <key>`,
//! checked against the route table's [`Access`] of the matched route.
//!
//! The check runs after routing (a route layer), so it knows which endpoint
//! was asked for. A route missing from the table (added by a nested
//! service) needs an admin key, except the dashboard's static `/assets/`:
//! deny by default. An unknown route answers 404 without a key, which says
//! nothing beyond what `/api/openapi.json` already publishes.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use organism_domain::Role;

use crate::{ApiError, AppState};

/// How callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every non-public route needs a key (the default).
    Keys,
    /// No key needed; every caller is an unrestricted admin. For local use
    /// only: `serve --insecure-no-auth` warns loudly at start.
    InsecureNoAuth,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the dashboard page, its assets, the OpenAPI document.
    Public,
    /// Any valid key, whatever its role (health, Prometheus metrics).
    AnyKey,
    /// Reader or admin (individual trends, alerts, statistics; team
    /// restrictions apply in the handler).
    Read,
    /// Reader, manager or admin (team aggregates; a manager gets them with
    /// its privacy protections, in the handler).
    Aggregate,
    /// Writer or admin (metrics and graph snapshots).
    Write,
    /// Admin only (interventions, audit).
    Admin,
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::AnyKey => true,
            Access::Read => matches!(role, Role::Reader | Role::Admin),
            Access::Aggregate => matches!(role, Role::Reader | Role::Manager | Role::Admin),
            Access::Write => matches!(role, Role::Writer | Role::Admin),
            Access::Admin => role == Role::Admin,
        }
    }

    fn needs(self) -> &'static str {
        match self {
            Access::Public | Access::AnyKey => "any key",
            Access::Read => "a reader or admin key",
            Access::Aggregate => "a reader, manager or admin key",
            Access::Write => "a writer or admin key",
            Access::Admin => "an admin key",
        }
    }
}

/// The caller, as the handlers see it (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `None` when authentication is off.
    pub key_id: Option<String>,
    pub role: Role,
    /// The only teams this caller may see; `None`: every team.
    pub teams: Option<Vec<String>>,
}

impl Principal {
    fn unrestricted_admin() -> Self {
        Self {
            key_id: None,
            role: Role::Admin,
            teams: None,
        }
    }

    /// Whether the caller sees aggregates only, with noise.
    pub fn is_manager(&self) -> bool {
        self.role == Role::Manager
    }

    /// The teams this caller is restricted to, if any.
    pub fn teams(&self) -> Option<&[String]> {
        self.teams.as_deref()
    }

    /// 403 unless the caller may see `team`.
    pub fn require_team(&self, team: Option<&str>) -> Result<(), ApiError> {
        match (self.teams(), team) {
            (None, _) => Ok(()),
            (Some(allowed), Some(team)) if allowed.iter().any(|t| t == team) => Ok(()),
            (Some(_), _) => Err(ApiError::Forbidden {
                code: "team_forbidden",
                message: "this key may not see that team or its employees".into(),
            }),
        }
    }

    /// 403 for a caller restricted to teams (answers computed over the whole
    /// organisation).
    pub fn require_unrestricted(&self) -> Result<(), ApiError> {
        if self.teams.is_some() {
            return Err(ApiError::Forbidden {
                code: "team_forbidden",
                message: "organisation-wide answers need a key not restricted to teams".into(),
            });
        }
        Ok(())
    }
}

/// The access the matched route needs.
fn access_of(method: &str, path: &str) -> Access {
    if path == "/" || path.starts_with("/assets/") || path == "/assets" {
        return Access::Public;
    }
    let method = if method == "head" { "get" } else { method };
    crate::routes::table()
        .iter()
        .find(|e| e.path == path && e.method == method)
        .map_or(Access::Admin, |e| e.access)
}

/// The key of an `Authorization: Bearer <key>` header. `Err` when the header
/// is there but is not a bearer token.
fn bearer(request: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| invalid_key())?;
    let (scheme, key) = text.trim().split_once(' ').ok_or_else(invalid_key)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized {
            code: "invalid_api_key",
            message: "send the key as `Authorization: Bearer <key>`".into(),
        });
    }
    Ok(Some(key.trim()))
}

fn invalid_key() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_api_key",
        message: "the API key is unknown or revoked".into(),
    }
}

/// The route layer: authenticates the caller and checks the route's access.
pub async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let method = request.method().as_str().to_ascii_lowercase();
    let access = access_of(&method, &path);
    // Owned before any await: a `&Request` is not `Send`.
    let key = bearer(&request).map(|k| k.map(str::to_string));
    match principal(&state, key, access).await {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn principal(
    state: &AppState,
    key: Result<Option<String>, ApiError>,
    access: Access,
) -> Result<Option<Principal>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    if state.config.auth == AuthMode::InsecureNoAuth {
        return Ok(Some(Principal::unrestricted_admin()));
    }
    let key = key?.ok_or_else(|| ApiError::Unauthorized {
        code: "missing_api_key",
        message: "this endpoint needs an API key: send `Authorization: Bearer <key>`".into(),
    })?;
    let grant = state
        .store
        .authenticate(&key)
        .await?
        .ok_or_else(invalid_key)?;
    if !access.allows(grant.role) {
        return Err(ApiError::Forbidden {
            code: "wrong_role",
            message: format!(
                "this endpoint needs {}; this key is a {} key",
                access.needs(),
                grant.role
            ),
        });
    }
    Ok(Some(Principal {
        key_id: Some(grant.key_id),
        role: grant.role,
        teams: grant.teams,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_not_a_ladder() {
        assert!(Access::Read.allows(Role::Reader));
        assert!(!Access::Read.allows(Role::Writer));
        assert!(Access::Write.allows(Role::Writer));
        assert!(!Access::Write.allows(Role::Reader));
        assert!(!Access::Admin.allows(Role::Reader));
        assert!(!Access::Admin.allows(Role::Writer));
        for role in [Role::Writer, Role::Manager] {
            assert!(!Access::Read.allows(role));
        }
        assert!(!Access::Write.allows(Role::Manager));
        assert!(!Access::Admin.allows(Role::Manager));
        assert!(Access::Aggregate.allows(Role::Manager));
        assert!(Access::Aggregate.allows(Role::Reader));
        assert!(!Access::Aggregate.allows(Role::Writer));
        for access in [
            Access::AnyKey,
            Access::Read,
            Access::Aggregate,
            Access::Write,
            Access::Admin,
        ] {
            assert!(access.allows(Role::Admin));
        }
    }

    #[test]
    fn a_route_outside_the_table_needs_an_admin_except_assets() {
        assert_eq!(access_of("get", "/somewhere/else"), Access::Admin);
        assert_eq!(access_of("get", "/assets/app.js"), Access::Public);
        assert_eq!(access_of("get", "/"), Access::Public);
        assert_eq!(
            access_of("head", "/api/trends/burnout-alerts"),
            Access::Read
        );
        assert_eq!(access_of("post", "/api/metrics"), Access::Write);
    }

    #[test]
    fn a_restricted_reader_sees_only_its_teams() {
        let p = Principal {
            key_id: None,
            role: Role::Reader,
            teams: Some(vec!["Core".into()]),
        };
        assert!(p.require_team(Some("Core")).is_ok());
        assert!(p.require_team(Some("Edge")).is_err());
        assert!(p.require_team(None).is_err());
        assert!(p.require_unrestricted().is_err());
        assert!(Principal::unrestricted_admin().require_team(None).is_ok());
    }
}
