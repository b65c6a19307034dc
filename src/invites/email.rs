//! The invite email, sent over SMTP after the invite is committed. Sending
//! runs on its own task: a slow or dead SMTP server never holds up or fails
//! the request, and never loses the invite (it is already stored). Failures
//! are logged with the invite id and the server, never the credentials.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::model::{Invite, VALIDITY_DAYS};
use crate::config::EmailSettings;

/// Give up on a server that does not answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// What the email says, worked out before the request ends.
#[derive(Clone, Debug)]
pub struct InviteEmail {
    pub invite_id: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
}

impl InviteEmail {
    /// `signup_url`: the link with the invite's sign-up token (`token::signup_url`).
    pub fn new(invite: &Invite, organization_name: &str, signup_url: &str) -> InviteEmail {
        let inviter = invite.created_by.as_ref();
        let inviter_name = inviter
            .map(|u| {
                let name = u.first_name.trim();
                if name.is_empty() {
                    u.email.clone()
                } else {
                    name.to_string()
                }
            })
            .unwrap_or_else(|| "Someone".to_string());
        let greeting = match invite.first_name.trim() {
            "" => "Hi,".to_string(),
            name => format!("Hi {name},"),
        };
        let mut body =
            format!("{greeting}\n\n{inviter_name} invited you to join {organization_name}.\n");
        if let Some(message) = invite.message.as_deref().filter(|m| !m.trim().is_empty()) {
            body.push_str(&format!("\nTheir message:\n\n{message}\n"));
        }
        body.push_str(&format!(
            "\nAccept the invite here:\n{signup_url}\n\nThe invite is valid for {VALIDITY_DAYS} days.\n"
        ));
        InviteEmail {
            invite_id: invite.id.clone(),
            to: invite.target_email.clone(),
            reply_to: inviter.map(|u| u.email.clone()),
            subject: format!("{inviter_name} invited you to join {organization_name}"),
            body,
        }
    }
}

/// Sends the mails on a spawned task, after the caller has committed.
pub fn send_later(settings: &EmailSettings, mails: Vec<InviteEmail>) {
    if mails.is_empty() {
        return;
    }
    let settings = settings.clone();
    tokio::spawn(async move {
        for mail in mails {
            match send(&settings, &mail).await {
                Ok(()) => tracing::info!(invite_id = %mail.invite_id, "invite email sent"),
                Err(error) => tracing::error!(
                    invite_id = %mail.invite_id,
                    smtp_host = %settings.host,
                    smtp_port = settings.port,
                    %error,
                    "invite email could not be sent"
                ),
            }
        }
    });
}

fn transport(s: &EmailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = if s.use_ssl {
        AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
    } else if s.use_tls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host).map_err(|e| e.to_string())?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
    };
    let mut builder = builder.port(s.port).timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &s.user {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            s.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

/// One email, start to finish.
pub async fn send(settings: &EmailSettings, mail: &InviteEmail) -> Result<(), String> {
    let mailbox = |s: &str, what: &str| -> Result<Mailbox, String> {
        s.parse::<Mailbox>()
            .map_err(|e| format!("{what} address {s:?} is not usable: {e}"))
    };
    let mut message = Message::builder()
        .from(mailbox(&settings.from, "from")?)
        .to(mailbox(&mail.to, "recipient")?)
        .subject(mail.subject.clone());
    if let Some(reply_to) = &mail.reply_to {
        // An inviter address the mail library cannot use only loses the Reply-To.
        if let Ok(m) = reply_to.parse::<Mailbox>() {
            message = message.reply_to(m);
        }
    }
    let message = message
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())?;
    transport(settings)?
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
