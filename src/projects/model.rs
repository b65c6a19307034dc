//! A project as stored, and as PostHog's API renders it.

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::live_events;
use super::settings::{self, Shown};
use super::setup_tasks::SETUP_TASK_IDS;
use crate::access::ProjectLevel;
use crate::openapi::schema::{self as s, Kind};
use crate::time;

#[derive(Clone, Debug)]
pub struct Project {
    pub id: i64,
    pub uuid: String,
    pub organization_id: String,
    pub name: String,
    pub product_description: Option<String>,
    pub is_demo: bool,
    pub api_token: String,
    pub secret_api_token: Option<String>,
    pub secret_api_token_backup: Option<String>,
    pub ingested_event: bool,
    /// The settings document as stored: a JSON object with every setting in
    /// `settings::SETTINGS`. Kept as text so reads render it without building
    /// a map; writes parse it with [`Project::settings`].
    pub settings_json: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a field stands in PostHog's detail order; DRF validates fields in that order and
/// reports the first that fails.
pub fn field_position(name: &str) -> usize {
    detail_plan()
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(usize::MAX)
}

/// The project detail's fields (ProjectBackwardCompat), in PostHog's order.
pub fn detail_fields() -> impl Iterator<Item = &'static str> {
    detail_plan().iter().map(|f| f.name)
}

/// The list item's fields (ProjectBackwardCompatBasic), in PostHog's order.
pub fn list_fields() -> impl Iterator<Item = &'static str> {
    list_plan().iter().map(|f| f.name)
}

/// The person-on-events modes under which PostHog says querying uses person properties on events.
const ON_EVENTS_MODES: [&str; 2] = [
    "person_id_override_properties_on_events",
    "person_id_no_override_properties_on_events",
];

/// The setup task ids, rendered once: written per request they were half
/// the escaped strings of a project detail.
fn setup_task_ids() -> &'static RawValue {
    static RENDERED: OnceLock<Box<RawValue>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let text = serde_json::to_string(SETUP_TASK_IDS).expect("a list of strings");
        RawValue::from_string(text).expect("a JSON list is a raw value")
    })
}

/// HogQL modifier defaults as a self-hosted PostHog reports them (every key, unset ones null),
/// rendered once.
fn default_modifiers() -> &'static RawValue {
    static RENDERED: OnceLock<Box<RawValue>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let value = json!({
        "bounceRateDurationSeconds": null,
        "bounceRatePageViewMode": "count_pageviews",
        "convertToProjectTimezone": true,
        "customChannelTypeRules": null,
        "dataWarehouseEventsModifiers": null,
        "debug": null,
        "forceClickhouseDataSkippingIndexes": null,
        "formatCsvAllowDoubleQuotes": null,
        "inCohortVia": "auto",
        "inlineCohortCalculation": "auto",
        "materializationMode": "legacy_null_as_null",
        "materializedColumnsOptimizationMode": null,
        "optimizeJoinedFilters": false,
        "optimizeProjections": null,
        "personsArgMaxVersion": "auto",
        "personsJoinMode": null,
        "personsOnEventsMode": "person_id_override_properties_joined",
        "propertyGroupsMode": null,
        "s3TableUseInvalidColumns": null,
        "sessionIdPushdown": false,
        "sessionPropertyPreAggregation": false,
        "sessionTableVersion": "auto",
        "sessionsV2JoinMode": "uuid",
        "timings": null,
        "useMaterializedViews": true,
        "usePreaggregatedIntermediateResults": null,
        "usePreaggregatedTableTransforms": null,
        "useWebAnalyticsPreAggregatedTables": null,
        });
        RawValue::from_string(value.to_string()).expect("a JSON object is a raw value")
    })
}

/// Who is looking, for the fields that depend on it.
pub struct Viewer<'a> {
    pub user_id: i64,
    /// The viewer's level on this project (`effective_membership_level`,
    /// `user_access_level`).
    pub project_level: ProjectLevel,
    pub signing_key: &'a [u8],
}

/// A viewer, with the livestream token shown to them.
struct Looking<'a> {
    viewer: &'a Viewer<'a>,
    live_events_token: &'a str,
}

impl Looking<'_> {
    /// `viewer`'s token for `project`, for the fields written in `then`.
    fn with<T>(
        project: &Project,
        viewer: &Viewer<'_>,
        then: impl FnOnce(&Looking<'_>) -> T,
    ) -> (T, i64) {
        let now = chrono::Utc::now().timestamp();
        let token = live_events::token(project, viewer.user_id, viewer.signing_key, now);
        let looking = Looking {
            viewer,
            live_events_token: &token.text,
        };
        (then(&looking), token.reusable_until)
    }
}

/// Where a response field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The setting at this index of `settings::SETTINGS`.
    Setting(usize),
    Id,
    Organization,
    Name,
    ProductDescription,
    CreatedAt,
    EffectiveMembershipLevel,
    UserAccessLevel,
    False,
    EmptyList,
    LiveEventsToken,
    UpdatedAt,
    Uuid,
    ApiToken,
    IngestedEvent,
    IsDemo,
    PersonOnEventsQueryingEnabled,
    DefaultModifiers,
    SecretApiToken,
    SecretApiTokenBackup,
    AvailableSetupTaskIds,
    /// `TeamBasic`'s `project_id`: a project is its own project in prickle.
    ProjectId,
}

/// A field of the project detail that is not a setting: where its value comes
/// from, its place, and its schema in the API document.
pub struct OwnField {
    pub name: &'static str,
    source: Source,
    /// The setting it follows (`None`: before the first setting).
    after: Option<&'static str>,
    pub schema: fn() -> RefOr<Schema>,
    /// Set by the server: read-only, and required in the detail's schema.
    pub read_only: bool,
}

const fn own(
    name: &'static str,
    source: Source,
    after: Option<&'static str>,
    schema: fn() -> RefOr<Schema>,
    read_only: bool,
) -> OwnField {
    OwnField {
        name,
        source,
        after,
        schema,
        read_only,
    }
}

/// The project detail's own fields, in PostHog's order, each placed right
/// after the setting it follows. The settings fill the places between, in
/// `settings::SETTINGS` order. Their schemas are PostHog's.
const DETAIL_OWN_FIELDS: &[OwnField] = &[
    own("id", Source::Id, None, || ro(s::integer()), true),
    own(
        "organization",
        Source::Organization,
        None,
        || ro(s::uuid()),
        true,
    ),
    own("name", Source::Name, None, || writable("name"), false),
    own(
        "product_description",
        Source::ProductDescription,
        None,
        || writable("product_description"),
        false,
    ),
    own(
        "created_at",
        Source::CreatedAt,
        None,
        || ro(s::date_time()),
        true,
    ),
    // PostHog: a nullable EffectiveMembershipLevelEnum (1, 8, 15); inline, to carry readOnly.
    own(
        "effective_membership_level",
        Source::EffectiveMembershipLevel,
        None,
        || {
            ro(s::nullable(Kind::Integer)
                .enum_values(Some([Some(1), Some(8), Some(15), None]))
                .description(Some(
                    "* `1` - member\n* `8` - administrator\n* `15` - owner",
                )))
        },
        true,
    ),
    // No group types, product intents or (deprecated) access control in prickle.
    own(
        "has_group_types",
        Source::False,
        None,
        || ro(s::boolean()),
        true,
    ),
    own(
        "group_types",
        Source::EmptyList,
        None,
        || s::read_only_array(s::array(s::free_object())),
        true,
    ),
    own(
        "live_events_token",
        Source::LiveEventsToken,
        None,
        || ro(s::nullable(Kind::String)),
        true,
    ),
    own(
        "updated_at",
        Source::UpdatedAt,
        None,
        || ro(s::date_time()),
        true,
    ),
    own("uuid", Source::Uuid, None, || ro(s::uuid()), true),
    own(
        "api_token",
        Source::ApiToken,
        None,
        || ro(s::string()),
        true,
    ),
    own(
        "ingested_event",
        Source::IngestedEvent,
        Some("completed_snippet_onboarding"),
        || ro(s::boolean()),
        true,
    ),
    own(
        "is_demo",
        Source::IsDemo,
        Some("path_cleaning_filters"),
        || writable("is_demo"),
        false,
    ),
    own(
        "access_control",
        Source::False,
        Some("survey_config"),
        || writable("access_control"),
        false,
    ),
    own(
        "person_on_events_querying_enabled",
        Source::PersonOnEventsQueryingEnabled,
        Some("recording_domains"),
        || ro(s::boolean()),
        true,
    ),
    own(
        "default_modifiers",
        Source::DefaultModifiers,
        Some("modifiers"),
        || ro(s::of(Kind::Object).additional_properties(Some(s::any()))),
        true,
    ),
    own(
        "product_intents",
        Source::EmptyList,
        Some("heatmaps_opt_in"),
        || s::read_only_array(s::array(s::any())),
        true,
    ),
    own(
        "secret_api_token",
        Source::SecretApiToken,
        Some("flags_persistence_default"),
        || ro(s::nullable(Kind::String)),
        true,
    ),
    own(
        "secret_api_token_backup",
        Source::SecretApiTokenBackup,
        Some("flags_persistence_default"),
        || ro(s::nullable(Kind::String)),
        true,
    ),
    own(
        "available_setup_task_ids",
        Source::AvailableSetupTaskIds,
        Some("proactive_tasks_enabled"),
        || s::read_only_array(s::array(s::component(SETUP_TASK_IDS_ENUM))),
        true,
    ),
    own(
        "user_access_level",
        Source::UserAccessLevel,
        Some("proactive_tasks_enabled"),
        || {
            ro(s::nullable(Kind::String).description(Some(
                "The effective access level the user has for this object",
            )))
        },
        true,
    ),
];

/// The component `available_setup_task_ids` refers to.
pub const SETUP_TASK_IDS_ENUM: &str = "AvailableSetupTaskIdsEnum";

/// A field clients write: its schema is its request declaration's
/// (`payload::PROJECT`).
fn writable(name: &str) -> RefOr<Schema> {
    super::payload::PROJECT
        .property(name)
        .unwrap_or_else(|| s::any().into())
}

fn ro(b: ObjectBuilder) -> RefOr<Schema> {
    b.read_only(Some(true)).into()
}

/// The list item's own fields, in PostHog's order (their schemas are the
/// detail's); a setting shown in the list goes right after the field its
/// `Shown::DetailAndList` names.
const LIST_OWN_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "organization",
    "api_token",
    "name",
    "ingested_event",
    "is_demo",
    "access_control",
];

fn own_field(name: &str) -> &'static OwnField {
    DETAIL_OWN_FIELDS
        .iter()
        .find(|f| f.name == name)
        .expect("list fields are detail fields")
}

/// What the API document says of a field of the detail or the list, from
/// its declaration here or in `settings::SETTINGS`: its schema, and whether
/// the server sets it.
pub fn field_schema(name: &str) -> (RefOr<Schema>, bool) {
    match DETAIL_OWN_FIELDS.iter().find(|f| f.name == name) {
        Some(f) => ((f.schema)(), f.read_only),
        None => match settings::find(name) {
            Some(setting) => (super::openapi::setting_schema(setting), false),
            None => (s::any().into(), false),
        },
    }
}

type Plan = Vec<(&'static str, Source)>;

/// A response field in its place.
struct Field {
    name: &'static str,
    source: Source,
}

fn fields(plan: Plan) -> Vec<Field> {
    plan.into_iter()
        .map(|(name, source)| Field { name, source })
        .collect()
}

/// Every detail field, in PostHog's order.
fn detail_plan() -> &'static [Field] {
    static PLAN: OnceLock<Vec<Field>> = OnceLock::new();
    PLAN.get_or_init(|| {
        fn own_after(anchor: Option<&str>) -> impl Iterator<Item = (&'static str, Source)> + '_ {
            DETAIL_OWN_FIELDS
                .iter()
                .filter(move |f| f.after == anchor)
                .map(|f| (f.name, f.source))
        }
        let mut plan: Plan = own_after(None).collect();
        for (i, setting) in settings::SETTINGS.iter().enumerate() {
            plan.push((setting.name, Source::Setting(i)));
            plan.extend(own_after(Some(setting.name)));
        }
        fields(plan)
    })
}

/// Every list item field, in PostHog's order.
fn list_plan() -> &'static [Field] {
    fn settings_after(field: &str, plan: &mut Plan) {
        for (i, setting) in settings::SETTINGS.iter().enumerate() {
            if matches!(setting.shown, Shown::DetailAndList { after } if after == field) {
                plan.push((setting.name, Source::Setting(i)));
                settings_after(setting.name, plan);
            }
        }
    }
    static PLAN: OnceLock<Vec<Field>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut plan = Plan::new();
        for field in LIST_OWN_FIELDS {
            plan.push((field, own_field(field).source));
            settings_after(field, &mut plan);
        }
        fields(plan)
    })
}

/// The stored settings document, borrowed: each setting's raw JSON text,
/// indexed as `settings::SETTINGS`, without building values.
struct RawSettings<'a>(Vec<Option<&'a RawValue>>);

impl<'a> RawSettings<'a> {
    fn parse(json: &'a str) -> RawSettings<'a> {
        let mut de = serde_json::Deserializer::from_str(json);
        match de.deserialize_map(RawSettingsVisitor) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::error!(error = %e, "stored project settings are not a JSON object");
                RawSettings(vec![None; settings::SETTINGS.len()])
            }
        }
    }

    /// The setting's JSON text (`null` when absent).
    fn get(&self, index: usize) -> &'a str {
        self.raw(index).map(RawValue::get).unwrap_or("null")
    }

    /// The setting's JSON, as stored (`None` when absent).
    fn raw(&self, index: usize) -> Option<&'a RawValue> {
        self.0.get(index).copied().flatten()
    }
}

struct RawSettingsVisitor;

impl<'de> Visitor<'de> for RawSettingsVisitor {
    type Value = RawSettings<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a settings object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots = vec![None; settings::SETTINGS.len()];
        let mut position = 0;
        while let Some(key) = map.next_key::<&'de str>()? {
            let value: &'de RawValue = map.next_value()?;
            // Documents are written in SETTINGS order: try the next slot first.
            let index = match settings::SETTINGS.get(position) {
                Some(s) if s.name == key => Some(position),
                _ => settings::index(key),
            };
            if let Some(i) = index {
                slots[i] = Some(value);
                position = i + 1;
            }
        }
        Ok(RawSettings(slots))
    }
}

impl Project {
    /// Whether two versions hold the same writable state.
    pub fn same_content(&self, other: &Project) -> bool {
        self.name == other.name
            && self.product_description == other.product_description
            && self.is_demo == other.is_demo
            && self.settings_json == other.settings_json
    }

    /// The settings document as a map (for validation and updates).
    pub fn settings(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.settings_json) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    pub fn set_settings(&mut self, settings: &Map<String, Value>) {
        // Serialising a map of JSON values cannot fail.
        self.settings_json = serde_json::to_string(settings).unwrap_or_else(|_| "{}".into());
    }

    /// The full project detail (ProjectBackwardCompat) as JSON text: the hot
    /// path of `GET projects/:id/`.
    pub fn detail(&self, viewer: &Viewer<'_>) -> String {
        self.detail_reusable(viewer).0
    }

    /// [`Project::detail`], and until when (Unix seconds) the same text may
    /// be shown to the same viewer again while the project is unchanged:
    /// its livestream token's (`live_events`).
    pub fn detail_reusable(&self, viewer: &Viewer<'_>) -> (String, i64) {
        Looking::with(self, viewer, |looking| {
            let mut out = Vec::with_capacity(self.settings_json.len() + 4096);
            let mut object = Direct {
                out: &mut out,
                first: true,
            };
            // Writing to memory fails only on a non-string map key; there is none.
            let _ = self.write_fields(&mut object, detail_plan(), Some(looking));
            if object.first {
                out.push(b'{');
            }
            out.push(b'}');
            String::from_utf8(out).unwrap_or_default()
        })
    }

    /// Serialises the fields of `plan` as a JSON object. The fields that
    /// depend on the viewer are only in the detail, which always has one.
    fn serialize_fields<S: Serializer>(
        &self,
        serializer: S,
        plan: &[Field],
        looking: Option<&Looking<'_>>,
    ) -> Result<S::Ok, S::Error> {
        let mut map = SerdeMap(serializer.serialize_map(Some(plan.len()))?);
        self.write_fields(&mut map, plan, looking)?;
        map.0.end()
    }

    /// Writes the fields of `plan`, in order, as entries of `map`.
    fn write_fields<E: Entries>(
        &self,
        map: &mut E,
        plan: &[Field],
        looking: Option<&Looking<'_>>,
    ) -> Result<(), E::Error> {
        let raw = RawSettings::parse(&self.settings_json);
        for field in plan {
            let key = field.name;
            match (field.source, looking) {
                (Source::Setting(index), _) => match raw.raw(index) {
                    Some(value) => map.serialize_entry(key, value)?,
                    None => map.serialize_entry(key, &())?,
                },
                (Source::Id | Source::ProjectId, _) => map.serialize_entry(key, &self.id)?,
                (Source::Organization, _) => map.str_entry(key, &self.organization_id)?,
                (Source::Name, _) => map.str_entry(key, &self.name)?,
                (Source::ProductDescription, _) => {
                    map.serialize_entry(key, &self.product_description)?
                }
                (Source::CreatedAt, _) => map.str_entry(key, &time::format(self.created_at))?,
                // The level the project's access rules resolve to: 1 or 8.
                (Source::EffectiveMembershipLevel, Some(looking)) => {
                    map.serialize_entry(key, &looking.viewer.project_level.as_i64())?
                }
                (Source::UserAccessLevel, Some(looking)) => {
                    map.serialize_entry(key, looking.viewer.project_level.as_str())?
                }
                (Source::False, _) => map.serialize_entry(key, &false)?,
                (Source::EmptyList, _) => map.serialize_entry(key, &[(); 0])?,
                (Source::LiveEventsToken, Some(looking)) => {
                    map.str_entry(key, looking.live_events_token)?
                }
                (Source::UpdatedAt, _) => map.str_entry(key, &time::format(self.updated_at))?,
                (Source::Uuid, _) => map.str_entry(key, &self.uuid)?,
                (Source::ApiToken, _) => map.str_entry(key, &self.api_token)?,
                (Source::IngestedEvent, _) => map.serialize_entry(key, &self.ingested_event)?,
                (Source::IsDemo, _) => map.serialize_entry(key, &self.is_demo)?,
                (Source::PersonOnEventsQueryingEnabled, _) => {
                    map.serialize_entry(key, &persons_on_events(&raw))?
                }
                (Source::DefaultModifiers, _) => map.serialize_entry(key, default_modifiers())?,
                (Source::SecretApiToken, _) => map.serialize_entry(key, &self.secret_api_token)?,
                (Source::SecretApiTokenBackup, _) => {
                    map.serialize_entry(key, &self.secret_api_token_backup)?
                }
                (Source::AvailableSetupTaskIds, _) => map.serialize_entry(key, setup_task_ids())?,
                (
                    Source::EffectiveMembershipLevel
                    | Source::UserAccessLevel
                    | Source::LiveEventsToken,
                    None,
                ) => map.serialize_entry(key, &())?,
            }
        }
        Ok(())
    }
}

/// Where [`Project::write_fields`] writes: serde's map (every shape's
/// `Serialize`), or [`Direct`] (the detail's hot path).
trait Entries {
    type Error;
    fn serialize_entry<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error>;

    /// A string value: the same JSON as `serialize_entry`.
    fn str_entry(&mut self, key: &'static str, value: &str) -> Result<(), Self::Error> {
        self.serialize_entry(key, value)
    }
}

struct SerdeMap<M>(M);

impl<M: SerializeMap> Entries for SerdeMap<M> {
    type Error = M::Error;
    fn serialize_entry<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }
}

/// The detail's JSON object written straight to bytes: the same bytes as
/// serde's map (a test compares them), but the keys are copied instead of
/// run through serde_json's escaper, which took a ninth of a GET project's
/// instructions (callgrind; the keys are plain identifiers, tested).
struct Direct<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Entries for Direct<'_> {
    type Error = serde_json::Error;
    fn serialize_entry<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut *self.out, value)
    }

    /// Tokens, ids and timestamps need no escaping: copied after one look.
    fn str_entry(&mut self, key: &'static str, value: &str) -> Result<(), serde_json::Error> {
        let plain = value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
        if !plain {
            return self.serialize_entry(key, value);
        }
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":\"");
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
        Ok(())
    }
}

/// Whether the project's own modifiers put person properties on events.
fn persons_on_events(raw: &RawSettings<'_>) -> bool {
    static MODIFIERS: OnceLock<Option<usize>> = OnceLock::new();
    let Some(index) = *MODIFIERS.get_or_init(|| settings::index("modifiers")) else {
        return false;
    };
    let text = raw.get(index);
    if text == "null" {
        return false;
    }
    let mode: Option<Value> = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|m| m.get("personsOnEventsMode").cloned());
    mode.as_ref()
        .and_then(Value::as_str)
        .is_some_and(|m| ON_EVENTS_MODES.contains(&m))
}

/// PostHog's `ProjectBackwardCompat`: a project's detail, as this viewer
/// sees it. Its fields and their schemas are declared once, above
/// (`DETAIL_OWN_FIELDS`) and in `settings::SETTINGS`; the response and the
/// API document's component both come from them.
pub struct Detail<'a> {
    pub project: &'a Project,
    pub viewer: &'a Viewer<'a>,
}

impl Serialize for Detail<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Looking::with(self.project, self.viewer, |looking| {
            self.project
                .serialize_fields(serializer, detail_plan(), Some(looking))
        })
        .0
    }
}

impl PartialSchema for Detail<'_> {
    fn schema() -> RefOr<Schema> {
        super::openapi::detail_schema(true).into()
    }
}

impl ToSchema for Detail<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(super::openapi::DETAIL)
    }

    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((SETUP_TASK_IDS_ENUM.into(), setup_task_ids_enum()));
    }
}

/// PostHog's `ProjectBackwardCompatBasic`: a project in a list.
pub struct Basic<'a>(pub &'a Project);

impl Serialize for Basic<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_fields(serializer, list_plan(), None)
    }
}

impl PartialSchema for Basic<'_> {
    fn schema() -> RefOr<Schema> {
        let mut b = s::of(Kind::Object);
        for name in list_fields() {
            b = b.property(name, field_schema(name).0).required(name);
        }
        b.into()
    }
}

impl ToSchema for Basic<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(super::openapi::BASIC)
    }
}

/// PostHog's `TeamBasic` (an organization's `teams`, `@me`'s `team`): the
/// list item with its `project_id` after `organization`.
pub struct TeamBasic<'a>(pub &'a Project);

fn team_plan() -> &'static [Field] {
    static PLAN: OnceLock<Vec<Field>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut plan = Plan::new();
        for f in list_plan() {
            plan.push((f.name, f.source));
            if f.name == "organization" {
                plan.push(("project_id", Source::ProjectId));
            }
        }
        fields(plan)
    })
}

impl Serialize for TeamBasic<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_fields(serializer, team_plan(), None)
    }
}

impl PartialSchema for TeamBasic<'_> {
    fn schema() -> RefOr<Schema> {
        // The document lists `project_id` last, as PostHog's does.
        let mut b = s::of(Kind::Object);
        for name in list_fields() {
            b = b.property(name, field_schema(name).0).required(name);
        }
        b.property("project_id", ro(s::integer()))
            .required("project_id")
            .into()
    }
}

impl ToSchema for TeamBasic<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TeamBasic")
    }
}

fn setup_task_ids_enum() -> RefOr<Schema> {
    s::choice(Kind::String, SETUP_TASK_IDS.iter().copied()).into()
}

/// Projects as list items.
pub fn basic_list(projects: &[Project]) -> Vec<Basic<'_>> {
    projects.iter().map(Basic).collect()
}

/// "Default project", then "Default project 2", 3, ...: the first free one.
/// `taken` holds the organization's trimmed, lower-cased names.
pub fn next_default_name(taken: &[String]) -> String {
    let free = |n: u64| {
        let key = if n == 1 {
            "default project".to_string()
        } else {
            format!("default project {n}")
        };
        !taken.contains(&key)
    };
    let n = (1..).find(|n| free(*n)).unwrap_or(1);
    if n == 1 {
        "Default project".into()
    } else {
        format!("Default project {n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_place() {
        // An own field anchored to a setting that does not exist would be left out.
        let detail: Vec<&str> = detail_fields().collect();
        assert_eq!(
            detail.len(),
            DETAIL_OWN_FIELDS.len() + settings::SETTINGS.len()
        );
        for own in DETAIL_OWN_FIELDS {
            let field = own.name;
            assert_eq!(detail.iter().filter(|f| **f == field).count(), 1, "{field}");
        }
        for setting in settings::SETTINGS {
            assert_eq!(
                field_position(setting.name),
                detail
                    .iter()
                    .position(|f| *f == setting.name)
                    .unwrap_or(usize::MAX)
            );
        }
        let in_list = settings::SETTINGS
            .iter()
            .filter(|s| matches!(s.shown, Shown::DetailAndList { .. }))
            .count();
        assert_eq!(list_fields().count(), LIST_OWN_FIELDS.len() + in_list);
        // The list item has no viewer to show viewer-dependent fields to.
        assert!(list_plan().iter().all(|f| !matches!(
            f.source,
            Source::EffectiveMembershipLevel | Source::UserAccessLevel | Source::LiveEventsToken
        )));
        assert_eq!(detail.last(), Some(&"user_access_level"));
    }

    #[test]
    fn list_item_renders_in_order() {
        let project = Project {
            id: 7,
            uuid: "u".into(),
            organization_id: "o".into(),
            name: "N".into(),
            product_description: None,
            is_demo: false,
            api_token: "phc_x".into(),
            secret_api_token: None,
            secret_api_token_backup: None,
            ingested_event: true,
            settings_json: serde_json::to_string(&settings::defaults()).unwrap(),
            created_at: 0,
            updated_at: 0,
        };
        let out = serde_json::to_string(&Basic(&project)).unwrap();
        assert_eq!(
            out,
            r#"{"id":7,"uuid":"u","organization":"o","api_token":"phc_x","name":"N","completed_snippet_onboarding":false,"has_completed_onboarding_for":null,"ingested_event":true,"is_demo":false,"timezone":"UTC","access_control":false}"#
        );
        let team = serde_json::to_string(&TeamBasic(&project)).unwrap();
        assert!(
            team.starts_with(
                r#"{"id":7,"uuid":"u","organization":"o","project_id":7,"api_token":"phc_x","#
            ),
            "{team}"
        );
    }

    /// The detail's direct writer and its `Serialize` write the same bytes,
    /// for values that need escaping, absent values and every level.
    #[test]
    fn the_detail_writer_writes_what_the_type_serialises() {
        for key in detail_fields() {
            assert!(
                key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{key} would need escaping"
            );
        }
        let mut settings = settings::defaults();
        settings.insert("app_urls".into(), json!(["https://a\"b\\c\u{1}é/\u{2028}"]));
        settings.insert("timezone".into(), json!("Europe/Berlin"));
        settings.remove("survey_config");
        let odd = "quote\" backslash\\ tab\t nul\u{0} emoji\u{1F600} </script>";
        for (n, level) in [
            ProjectLevel::Member,
            ProjectLevel::Admin,
            ProjectLevel::Admin,
        ]
        .into_iter()
        .enumerate()
        {
            let project = Project {
                id: 7 + n as i64,
                uuid: odd.into(),
                organization_id: "o\n".into(),
                name: odd.into(),
                product_description: (n == 1).then(|| odd.to_string()),
                is_demo: n == 2,
                api_token: "phc_x".into(),
                secret_api_token: (n > 0).then(|| "phs_y".to_string()),
                secret_api_token_backup: None,
                ingested_event: n == 0,
                settings_json: serde_json::to_string(&settings).unwrap(),
                created_at: 1_700_000_000_123_456,
                updated_at: -1,
            };
            let viewer = Viewer {
                user_id: 3,
                project_level: level,
                signing_key: b"k",
            };
            // The token's expiry is read from the clock: a second may turn
            // between the two writes, never twice in a row.
            let same = (0..2).any(|_| {
                let typed = serde_json::to_string(&Detail {
                    project: &project,
                    viewer: &viewer,
                })
                .unwrap();
                project.detail(&viewer) == typed
            });
            assert!(same, "{level:?}");
        }
    }

    #[test]
    fn raw_settings_read_any_key_order() {
        let raw = RawSettings::parse(r#"{"timezone":"UTC","app_urls":["a"],"unknown":1}"#);
        assert_eq!(raw.get(settings::index("app_urls").unwrap()), r#"["a"]"#);
        assert_eq!(raw.get(settings::index("timezone").unwrap()), r#""UTC""#);
        assert_eq!(raw.get(settings::index("survey_config").unwrap()), "null");
    }

    #[test]
    fn default_names() {
        assert_eq!(next_default_name(&[]), "Default project");
        assert_eq!(
            next_default_name(&["default project".into()]),
            "Default project 2"
        );
        assert_eq!(
            next_default_name(&[
                "default project".into(),
                "default project 2".into(),
                "default project 4".into()
            ]),
            "Default project 3"
        );
    }
}
