//! What sign-up answers: the invite behind a link (`InviteSignupPreview`)
//! and the user who joined (`InviteSignupResponse`), each one type from
//! which both the response bytes and the API document's component come.

use serde::Serialize;
use utoipa::ToSchema;

use crate::users::model::UserBasic;

// What a sign-up link shows before joining (`GET /api/signup/{invite_id}/`):
// who is invited, to which organization.
#[derive(Serialize, ToSchema)]
#[schema(as = InviteSignupPreview)]
pub struct InviteSignupPreview<'a> {
    #[schema(format = "uuid")]
    pub id: &'a str,
    pub target_email: &'a str,
    pub first_name: &'a str,
    pub organization_name: &'a str,
}

// The user who joined through an invite and where the app goes next.
#[derive(Serialize, ToSchema)]
#[schema(as = InviteSignupResponse)]
pub struct InviteSignupResponse<'a> {
    #[serde(flatten)]
    pub user: UserBasic<'a>,
    pub redirect_url: &'a str,
}
