//! Deleting an organization leaves no row of it in any table. The tables and
//! their columns are read from the database's own catalogue, so a table added
//! later fails these tests until `KNOWN` says which of its rows belong to an
//! organization (and deletion removes them). A database migrated from
//! version 8, rows and all, deletes the same way; and deletion waits for a
//! writer that holds one of the organization's projects or documents instead
//! of deadlocking with it (PostgreSQL).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use prickle::storage::schema::{LegalDocuments, OauthApplications, ProjectMemberAccess, Projects};
use prickle::storage::Db;
use sea_query::{Alias, Expr, ExprTrait, Func, LockType, Query};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::signup::link;
use crate::support::TestApp;

/// A row as text, column by column (NULL as `None`).
type Row = BTreeMap<String, Option<String>>;
/// Every table's rows, sorted.
type Dump = BTreeMap<String, Vec<Row>>;

/// What deleting an organization must do to a table, seen from the rows.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Effect {
    /// Some rows are the organization's and go.
    Deletes,
    /// Some rows outside it point into it and change.
    Changes,
}

/// Every table the tests know. `pointers`: the columns whose names say they
/// point at an organization or a project, all of which `fate` reads (or a
/// comment says why not); `effects`: what the fixture must make deletion do.
struct Known {
    table: &'static str,
    pointers: &'static [&'static str],
    effects: &'static [Effect],
}

const KNOWN: &[Known] = &[
    Known {
        table: "prickle_migrations",
        pointers: &[],
        effects: &[],
    },
    // No organization's data: the counter every grant change bumps.
    Known {
        table: "grant_epochs",
        pointers: &[],
        effects: &[Effect::Changes],
    },
    // A user's signed-in browsers: the user's, not an organization's (they
    // go with the user).
    Known {
        table: "sessions",
        pointers: &[],
        effects: &[],
    },
    // Bookkeeping: failed logins by email and address, for the lockout.
    Known {
        table: "login_failures",
        pointers: &[],
        effects: &[],
    },
    Known {
        table: "organizations",
        // A setting of the organization, not a pointer.
        pointers: &["members_can_create_projects"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "users",
        // `role_at_organization` is the user's job, free text, not a pointer.
        pointers: &[
            "current_organization_id",
            "current_team_id",
            "role_at_organization",
        ],
        effects: &[Effect::Changes],
    },
    Known {
        table: "organization_memberships",
        pointers: &["organization_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "personal_api_keys",
        pointers: &["scoped_organizations", "scoped_teams"],
        effects: &[Effect::Deletes, Effect::Changes],
    },
    Known {
        table: "projects",
        pointers: &["organization_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "activity_log",
        pointers: &["organization_id", "team_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "organization_invites",
        // The projects it would grant: the invite goes with the organization.
        pointers: &["organization_id", "private_project_access"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "project_member_access",
        pointers: &["project_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "access_controls",
        pointers: &["organization_id", "project_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "roles",
        pointers: &["organization_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "role_memberships",
        pointers: &[],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "legal_documents",
        pointers: &["organization_id"],
        effects: &[Effect::Deletes],
    },
    Known {
        table: "oauth_applications",
        pointers: &["organization_id"],
        effects: &[Effect::Deletes],
    },
];

fn known(table: &str) -> &'static Known {
    KNOWN.iter().find(|k| k.table == table).unwrap_or_else(|| {
        panic!(
            "table {table:?} is not known to tests/api/organization_deletion.rs: say in KNOWN \
             and `fate` which of its rows belong to an organization (and make deleting one \
             remove them, by an ON DELETE CASCADE key where it can)"
        )
    })
}

/// The organization being deleted, with what hangs off it.
struct Target {
    org: String,
    projects: BTreeSet<String>,
    memberships: BTreeSet<String>,
}

impl Target {
    fn of(dump: &Dump, org: &str) -> Target {
        let ids = |table: &str| -> BTreeSet<String> {
            dump[table]
                .iter()
                .filter(|r| r["organization_id"].as_deref() == Some(org))
                .map(|r| r["id"].clone().unwrap())
                .collect()
        };
        Target {
            org: org.to_string(),
            projects: ids("projects"),
            memberships: ids("organization_memberships"),
        }
    }
}

/// A row after its organization's deletion: gone, or kept as given.
#[derive(Debug)]
enum Fate {
    Gone,
    Kept(Row),
}

/// What deleting `t` does to one row of `table`: the tests' knowledge of
/// each table, written out rather than derived from the schema.
fn fate(table: &str, row: &Row, t: &Target) -> Fate {
    let col = |c: &str| -> Option<&str> {
        row.get(c)
            .unwrap_or_else(|| panic!("{table} has no column {c}"))
            .as_deref()
    };
    let gone_if = |gone: bool| {
        if gone {
            Fate::Gone
        } else {
            Fate::Kept(row.clone())
        }
    };
    let in_set = |c: &str, set: &BTreeSet<String>| col(c).is_some_and(|v| set.contains(v));
    match known(table).table {
        "prickle_migrations" | "sessions" | "login_failures" => Fate::Kept(row.clone()),
        // The deletion is one transaction: one bump.
        "grant_epochs" => {
            let mut after = row.clone();
            let epoch: i64 = col("epoch").expect("epoch").parse().expect("a number");
            after.insert("epoch".into(), Some((epoch + 1).to_string()));
            Fate::Kept(after)
        }
        "organizations" => gone_if(col("id") == Some(t.org.as_str())),
        "projects"
        | "organization_memberships"
        | "organization_invites"
        | "legal_documents"
        | "oauth_applications" => gone_if(col("organization_id") == Some(t.org.as_str())),
        "activity_log" => {
            let here = col("organization_id") == Some(t.org.as_str());
            assert!(
                here || !in_set("team_id", &t.projects),
                "an entry about one of the organization's projects filed elsewhere: {row:?}"
            );
            gone_if(here)
        }
        "project_member_access" => {
            gone_if(in_set("project_id", &t.projects) || in_set("membership_id", &t.memberships))
        }
        "access_controls" => {
            let here = col("organization_id") == Some(t.org.as_str());
            assert_eq!(
                here,
                in_set("project_id", &t.projects),
                "a rule filed under another organization than its project's: {row:?}"
            );
            gone_if(here)
        }
        "roles" => gone_if(col("organization_id") == Some(t.org.as_str())),
        // A role membership is of one organization's membership.
        "role_memberships" => gone_if(in_set("membership_id", &t.memberships)),
        "users" => {
            let mut after = row.clone();
            let org_here = col("current_organization_id") == Some(t.org.as_str());
            if org_here || in_set("current_team_id", &t.projects) {
                after.insert("current_team_id".into(), None);
            }
            if org_here {
                after.insert("current_organization_id".into(), None);
            }
            Fate::Kept(after)
        }
        "personal_api_keys" => {
            // Restrictions never widen: a list left empty would mean
            // "unrestricted", so its key goes.
            let mut after = row.clone();
            let org = BTreeSet::from([t.org.clone()]);
            for (c, gone) in [
                ("scoped_organizations", &org),
                ("scoped_teams", &t.projects),
            ] {
                let Some(text) = col(c) else { continue };
                let list: Vec<Value> = serde_json::from_str(text).expect("a JSON list");
                let kept: Vec<Value> = list
                    .iter()
                    .filter(|v| !gone.contains(&scalar(v)))
                    .cloned()
                    .collect();
                if kept.len() == list.len() {
                    continue;
                }
                if kept.is_empty() {
                    return Fate::Gone;
                }
                after.insert(c.into(), Some(Value::Array(kept).to_string()));
            }
            Fate::Kept(after)
        }
        other => unreachable!("{other} is in KNOWN but not in `fate`"),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn strings(db: &Db, stmt: &sea_query::SelectStatement) -> Vec<String> {
    let mut tx = db.read().await.unwrap();
    tx.query(stmt, |r| r.string(0)).await.unwrap()
}

/// The database's tables, from its catalogue (SQLite's own tables aside).
async fn tables(db: &Db) -> Vec<String> {
    let stmt = if db.is_postgres() {
        Query::select()
            .expr(Expr::col(Alias::new("table_name")).cast_as("text"))
            .from((Alias::new("information_schema"), Alias::new("tables")))
            .and_where(Expr::col(Alias::new("table_schema")).eq(Expr::cust("current_schema()")))
            .and_where(Expr::col(Alias::new("table_type")).eq("BASE TABLE"))
            .to_owned()
    } else {
        Query::select()
            .column(Alias::new("name"))
            .from(Alias::new("sqlite_master"))
            .and_where(Expr::col(Alias::new("type")).eq("table"))
            .to_owned()
    };
    let mut names: Vec<String> = strings(db, &stmt)
        .await
        .into_iter()
        .filter(|n| !n.starts_with("sqlite_"))
        .collect();
    names.sort();
    assert!(names.iter().any(|n| n == "organizations"), "{names:?}");
    names
}

async fn columns(db: &Db, table: &str) -> Vec<String> {
    let stmt = if db.is_postgres() {
        Query::select()
            .expr(Expr::col(Alias::new("column_name")).cast_as("text"))
            .from((Alias::new("information_schema"), Alias::new("columns")))
            .and_where(Expr::col(Alias::new("table_schema")).eq(Expr::cust("current_schema()")))
            .and_where(Expr::col(Alias::new("table_name")).eq(table))
            .to_owned()
    } else {
        Query::select()
            .column(Alias::new("name"))
            .from_function(Func::cust("pragma_table_info").arg(table), Alias::new("c"))
            .to_owned()
    };
    strings(db, &stmt).await
}

/// Every row of every table, as text.
async fn dump(db: &Db) -> Dump {
    let mut out = Dump::new();
    for table in tables(db).await {
        let columns = columns(db, &table).await;
        let mut stmt = Query::select();
        stmt.from(Alias::new(table.as_str()));
        for c in &columns {
            stmt.expr(Expr::col(Alias::new(c.as_str())).cast_as("text"));
        }
        let mut tx = db.read().await.unwrap();
        let mut rows = tx
            .query(&stmt, |r| {
                let mut row = Row::new();
                for (i, c) in columns.iter().enumerate() {
                    row.insert(c.clone(), r.opt_string(i)?);
                }
                Ok(row)
            })
            .await
            .unwrap();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

/// Every table is known, and so is every column that looks like a pointer
/// to an organization or a project.
fn check_catalogue(dump: &Dump, columns_of: &BTreeMap<String, Vec<String>>) {
    for table in dump.keys() {
        let k = known(table);
        for c in &columns_of[table] {
            let pointer = ["organization", "team", "project"]
                .iter()
                .any(|w| c.contains(w));
            assert!(
                !pointer || k.pointers.contains(&c.as_str()),
                "{table}.{c} may point at an organization or a project: teach \
                 tests/api/organization_deletion.rs (KNOWN, `fate`) what deleting one does to it"
            );
        }
    }
}

async fn columns_of(db: &Db, dump: &Dump) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in dump.keys() {
        out.insert(table.clone(), columns(db, table).await);
    }
    out
}

/// The rows of `table` after `what` are the expected ones; the message
/// lists only the rows that differ.
fn assert_rows(table: &str, actual: &[Row], expected: Vec<Row>, what: &str) {
    let actual: BTreeSet<&Row> = actual.iter().collect();
    let expected: BTreeSet<&Row> = expected.iter().collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "{table} after {what}:\nrows there that should not be: {unexpected:#?}\n\
         rows missing or changed: {missing:#?}"
    );
}

/// The fixture holds, for `org`, a row of every kind the tables can hold:
/// deleting it would delete rows of every table that holds organizations'
/// data, and change rows of those that point into them.
fn check_coverage(dump: &Dump, org: &str) {
    let t = Target::of(dump, org);
    for (table, rows) in dump {
        let mut seen = vec![];
        for row in rows {
            match fate(table, row, &t) {
                Fate::Gone => seen.push(Effect::Deletes),
                Fate::Kept(after) if &after != row => seen.push(Effect::Changes),
                Fate::Kept(_) => {}
            }
        }
        for effect in known(table).effects {
            assert!(
                seen.contains(effect),
                "the fixture gives deleting {org} no {effect:?} in {table}"
            );
        }
    }
}

/// One organization holding a row in every table that can hold its data.
struct Org {
    id: String,
    owner_key: String,
    projects: Vec<i64>,
}

/// Schema versions the fixture writes for: today's, or a database still at
/// version 8, whose accepted invites granted project access in
/// `project_member_access` (copied into rules by migration 10).
#[derive(Clone, Copy, PartialEq)]
enum Schema {
    Current,
    Version8,
}

async fn organization(app: &TestApp, name: &str, tag: &str, schema: Schema) -> Org {
    let owner = format!("owner-{tag}@example.com");
    let id = app.organization(name, &owner).await;
    let owner_key = app.key(&owner, &["*"]).await;
    let member = format!("member-{tag}@example.com");
    app.add_member(&id, &member, 1).await;
    let path = |rest: &str| format!("/api/organizations/{id}/{rest}");
    // Projects, and their activity (created, updated).
    let mut projects = vec![];
    for n in ["One", "Two"] {
        let r = app
            .call(
                "POST",
                &path("projects/"),
                Some(&owner_key),
                Some(json!({"name": format!("{name} {n}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        projects.push(r.body["id"].as_i64().unwrap());
    }
    // Project routes read access rules, whose table a database still at
    // version 8 lacks: the rename (an "updated" entry) is today's only.
    if schema == Schema::Current {
        let r = app
            .call(
                "PATCH",
                &path(&format!("projects/{}/", projects[0])),
                Some(&owner_key),
                Some(json!({"name": format!("{name} First")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = app
        .call(
            "POST",
            &path("legal_documents/"),
            Some(&owner_key),
            Some(json!({
                "document_type": "BAA",
                "company_name": name,
                "representative_name": "Ada",
                "representative_title": "CEO",
                "representative_email": format!("ada-{tag}@example.com"),
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    prickle::admin::create_oauth_application(
        &app.db,
        &id,
        &format!("{name} app"),
        &["https://a.example/cb".to_string()],
        false,
    )
    .await
    .unwrap();
    // One invite pending, one accepted: the newcomer's membership carries
    // project access, and their current organization and project are here.
    for (who, project) in [("pending", projects[0]), ("joined", projects[1])] {
        // A version-8 database has no rules for today's invite checks to
        // read: its grant is written as version 8 stored it.
        let legacy = schema == Schema::Version8;
        let access = match legacy {
            false => json!([{"id": project, "level": "admin"}]),
            true => json!([]),
        };
        let r = app
            .call(
                "POST",
                &path("invites/"),
                Some(&owner_key),
                Some(json!({
                    "target_email": format!("{who}-{tag}@example.com"),
                    "private_project_access": access,
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        if who == "joined" {
            // A version-8 database has no sessions table for a new account's
            // sign-in: there the account exists first and joins with its key.
            let (key, body) = match legacy {
                false => (
                    None,
                    json!({"first_name": "New", "password": "correct horse"}),
                ),
                true => {
                    let email = format!("{who}-{tag}@example.com");
                    app.user(&email).await;
                    (Some(app.key(&email, &["*"]).await), json!({}))
                }
            };
            let r = app
                .call("POST", &link(&r.body), key.as_deref(), Some(body))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        if legacy && who == "joined" {
            let membership = r_membership(app, &id, &format!("{who}-{tag}@example.com")).await;
            let mut tx = app.db.write().await.unwrap();
            let grant = Query::insert()
                .into_table(ProjectMemberAccess::Table)
                .columns([
                    ProjectMemberAccess::Id,
                    ProjectMemberAccess::ProjectId,
                    ProjectMemberAccess::MembershipId,
                    ProjectMemberAccess::Level,
                    ProjectMemberAccess::CreatedAt,
                ])
                .values_panic([
                    format!("grant-{tag}").into(),
                    project.into(),
                    membership.into(),
                    "admin".into(),
                    1i64.into(),
                ])
                .to_owned();
            tx.execute(&grant).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    // Keys restricted to the organization alone and to one of its projects.
    app.key_with(&member, &["*"], Some(vec![id.clone()]), None)
        .await;
    app.key_with(&member, &["*"], None, Some(vec![projects[0]]))
        .await;
    let org = Org {
        id,
        owner_key,
        projects,
    };
    if schema == Schema::Current {
        give_role(app, &org, name).await;
    }
    org
}

/// A role one of the organization's members holds, with a rule on one of
/// its projects (the rule API is not this test's: written through the
/// access store).
async fn give_role(app: &TestApp, org: &Org, name: &str) {
    let path = |rest: &str| format!("/api/organizations/{}/{rest}", org.id);
    let key = Some(org.owner_key.as_str());
    let r = app
        .call(
            "POST",
            &path("roles/"),
            key,
            Some(json!({"name": format!("{name} role")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let role = r.body["id"].as_str().unwrap().to_string();
    let members = app.call("GET", &path("members/"), key, None).await;
    let user_uuid = members.body["results"][0]["user"]["uuid"].clone();
    let r = app
        .call(
            "POST",
            &path(&format!("roles/{role}/role_memberships/")),
            key,
            Some(json!({ "user_uuid": user_uuid })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut tx = app.db.write().await.unwrap();
    let rule = prickle::access::store::NewRule {
        organization_id: &org.id,
        project_id: org.projects[1],
        membership_id: None,
        role_id: Some(&role),
        level: prickle::access::rules::RuleLevel::Member,
        by: None,
    };
    prickle::access::store::upsert(&mut tx, &rule, prickle::time::now_micros())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Two organizations alike, and a user in both: their key restricted to
/// both organizations, another to a project of each, their current project
/// in the first.
/// The membership id of `email` in `org`.
async fn r_membership(app: &TestApp, org: &str, email: &str) -> String {
    use prickle::storage::schema::{OrganizationMemberships as M, Users as U};
    let stmt = Query::select()
        .column((M::Table, M::Id))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org))
        .and_where(Expr::col((U::Table, U::Email)).eq(email))
        .to_owned();
    strings(&app.db, &stmt).await.remove(0)
}

async fn two_organizations(app: &TestApp, schema: Schema) -> (Org, Org) {
    let doomed = organization(app, "Doomed", "a", schema).await;
    let kept = organization(app, "Kept", "b", schema).await;
    let both = "both@example.com";
    app.add_member(&doomed.id, both, 1).await;
    prickle::admin::add_member(&app.db, &kept.id, both, 1)
        .await
        .unwrap();
    app.key_with(
        both,
        &["*"],
        Some(vec![doomed.id.clone(), kept.id.clone()]),
        None,
    )
    .await;
    app.key_with(
        both,
        &["*"],
        None,
        Some(vec![doomed.projects[1], kept.projects[1]]),
    )
    .await;
    let key = app.key(both, &["*"]).await;
    if schema == Schema::Current {
        let r = app
            .call(
                "PATCH",
                "/api/users/@me/",
                Some(&key),
                Some(json!({"set_current_team": doomed.projects[0]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    } else {
        // The switch reads access rules, whose table version 8 lacks.
        let mut tx = app.db.write().await.unwrap();
        let user = prickle::users::find_by_email(&mut tx, both)
            .await
            .unwrap()
            .unwrap();
        prickle::users::set_current(&mut tx, user.id, Some(&doomed.id), Some(doomed.projects[0]))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    (doomed, kept)
}

/// Deletes `doomed` through the API and checks every table against `fate`:
/// nothing of it is left, everything else is as it was (or narrowed, or
/// with its pointers into it cleared).
async fn delete_and_check(app: &TestApp, doomed: &Org, kept: &Org) {
    let before = dump(&app.db).await;
    check_catalogue(&before, &columns_of(&app.db, &before).await);
    check_coverage(&before, &doomed.id);
    check_coverage(&before, &kept.id);
    let target = Target::of(&before, &doomed.id);

    let r = app
        .call(
            "DELETE",
            &format!("/api/organizations/{}/", doomed.id),
            Some(&doomed.owner_key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    let after = dump(&app.db).await;
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        let expected: Vec<Row> = rows
            .iter()
            .filter_map(|r| match fate(table, r, &target) {
                Fate::Gone => None,
                Fate::Kept(after) => Some(after),
            })
            .collect();
        assert_rows(table, &after[table], expected, "deleting the organization");
    }
    for (table, rows) in &after {
        for row in rows {
            for (c, v) in row {
                assert!(
                    !v.as_deref().is_some_and(|v| v.contains(&doomed.id)),
                    "{table}.{c} still names the deleted organization: {row:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn deleting_an_organization_leaves_no_row_of_it_in_any_table() {
    let app = TestApp::new().await;
    let (doomed, kept) = two_organizations(&app, Schema::Current).await;
    delete_and_check(&app, &doomed, &kept).await;
}

/// Migration 9 changed the activity log's and the OAuth applications' keys
/// (SQLite: rebuilt both tables). A database holding data from version 8
/// keeps every row, except activity entries of organizations that no longer
/// exist (deletion removed those already; the new key could not hold them),
/// and then deletes organizations by cascade like a new one.
#[tokio::test]
async fn a_database_from_version_8_keeps_its_rows_and_then_deletes_by_cascade() {
    let app = TestApp::at_version(8).await;
    let (doomed, kept) = two_organizations(&app, Schema::Version8).await;
    let orphan = prickle::activity::Entry {
        organization_id: "0190a5b2-0000-7000-8000-000000000000",
        team_id: Some(999_999),
        user_id: None,
        activity: "updated",
        scope: "Team",
        item_id: "999999".into(),
        detail: json!({}),
    };
    let mut tx = app.db.write().await.unwrap();
    prickle::activity::record(&mut tx, orphan, 1).await.unwrap();
    // An application left without an organization (PostHog's SET NULL) stays.
    use OauthApplications as O;
    let ownerless = Query::insert()
        .into_table(O::Table)
        .columns([
            O::Id,
            O::OrganizationId,
            O::Name,
            O::ClientId,
            O::RedirectUris,
            O::IsVerified,
            O::Created,
            O::Updated,
        ])
        .values_panic([
            "ownerless".into(),
            Option::<String>::None.into(),
            "Ownerless".into(),
            "client-ownerless".into(),
            "https://o.example/cb".into(),
            false.into(),
            1i64.into(),
            1i64.into(),
        ])
        .to_owned();
    tx.execute(&ownerless).await.unwrap();
    tx.commit().await.unwrap();

    let before = dump(&app.db).await;
    assert_eq!(app.db.migrate().await.unwrap(), 4);
    let after = dump(&app.db).await;
    // Migration 10: the grants became member rules (admin: the owner
    // invited them), the old table is gone, roles are new and empty.
    // Migration 11: the grants epoch.
    let mut tables: Vec<&String> = before.keys().collect();
    tables.retain(|t| *t != "project_member_access");
    // Migration 12: sessions and failed logins.
    let added = [
        "access_controls",
        "grant_epochs",
        "login_failures",
        "role_memberships",
        "roles",
        "sessions",
    ]
    .map(String::from);
    tables.extend(added.iter());
    tables.sort();
    assert_eq!(tables, after.keys().collect::<Vec<_>>());
    assert!(after["roles"].is_empty() && after["role_memberships"].is_empty());
    let grants: Vec<_> = before["project_member_access"]
        .iter()
        .map(|g| {
            let m = g["membership_id"].clone().unwrap();
            (
                g["project_id"].clone(),
                format!("member:{m}"),
                Some(m),
                Some("8".to_string()),
            )
        })
        .collect();
    let rules: Vec<_> = after["access_controls"]
        .iter()
        .map(|r| {
            let s = r["subject_key"].clone().unwrap();
            (
                r["project_id"].clone(),
                s,
                r["membership_id"].clone(),
                r["access_level"].clone(),
            )
        })
        .collect();
    assert_eq!(grants.len(), 2);
    assert_eq!(rules, grants);
    for (table, rows) in &before {
        if table == "project_member_access" {
            continue;
        }
        let mut expected = rows.clone();
        match table.as_str() {
            "prickle_migrations" => {
                let versions: Vec<_> = after[table]
                    .iter()
                    .map(|r| r["version"].clone().unwrap().parse::<i64>().unwrap())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                assert_eq!(versions, (1..=12).collect::<Vec<_>>());
                continue;
            }
            "activity_log" => {
                let n = expected.len();
                expected.retain(|r| r["team_id"].as_deref() != Some("999999"));
                assert_eq!(expected.len(), n - 1);
            }
            _ => {}
        }
        assert_rows(table, &after[table], expected, "migration 9");
    }
    // Roles are new: each organization gets one before it is deleted.
    give_role(&app, &doomed, "Doomed").await;
    give_role(&app, &kept, "Kept").await;
    delete_and_check(&app, &doomed, &kept).await;
}

/// A project update locks its project and then writes an activity entry,
/// whose key to the organization takes KEY SHARE on the organization row;
/// the signing webhook does the same with a legal document. A deletion that
/// starts in between waits for that writer instead of deadlocking with it
/// (PostgreSQL aborts one of two deadlocked transactions; SQLite's writers
/// never overlap, and the test holds there trivially).
#[tokio::test]
async fn deletion_waits_for_a_writer_holding_a_project_or_a_document() {
    for held in ["project", "document"] {
        let app = TestApp::new().await;
        let org = organization(&app, "Busy", held, Schema::Current).await;
        let mut writer = app.db.write().await.unwrap();
        let lock = match held {
            "project" => Query::select()
                .expr(Expr::col(Projects::Id).cast_as("text"))
                .from(Projects::Table)
                .and_where(Expr::col(Projects::Id).eq(org.projects[0]))
                .lock(LockType::Update)
                .to_owned(),
            _ => Query::select()
                .column(LegalDocuments::Id)
                .from(LegalDocuments::Table)
                .and_where(Expr::col(LegalDocuments::OrganizationId).eq(org.id.as_str()))
                .lock(LockType::Update)
                .to_owned(),
        };
        assert_eq!(writer.query(&lock, |r| r.string(0)).await.unwrap().len(), 1);

        let request = Request::delete(format!("/api/organizations/{}/", org.id))
            .header(header::AUTHORIZATION, format!("Bearer {}", org.owner_key))
            .body(Body::empty())
            .unwrap();
        let deletion = tokio::spawn(app.router.clone().oneshot(request));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!deletion.is_finished(), "{held}: deletion did not wait");

        let entry = prickle::activity::Entry {
            organization_id: &org.id,
            team_id: Some(org.projects[0]),
            user_id: None,
            activity: "updated",
            scope: "Team",
            item_id: org.projects[0].to_string(),
            detail: json!({}),
        };
        prickle::activity::record(&mut writer, entry, prickle::time::now_micros())
            .await
            .unwrap_or_else(|e| panic!("{held}: the writer failed: {e}"));
        writer.commit().await.unwrap();
        let response = deletion.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{held}");

        // The writer's entry went with the organization.
        let left = dump(&app.db).await;
        for (table, rows) in &left {
            for row in rows {
                assert!(
                    !row.values().any(|v| v.as_deref() == Some(org.id.as_str())),
                    "{held}: {table} still holds {row:?}"
                );
            }
        }
    }
}
