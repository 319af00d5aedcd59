//! The five workflows of `docs/demo.md`: names, the user's task, the code-mode script and what the
//! agent searches for. Both ways share these so they do the same work.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The meeting transcript document.
pub(crate) const TRANSCRIPT_ID: &str = "doc-meeting-transcript";
/// The one `SalesMeeting` record.
pub(crate) const SALES_MEETING_ID: &str = "a0M000000000001";
/// The orders sheet.
pub(crate) const ORDERS_SHEET: &str = "sheet-orders";
/// The contacts sheet.
pub(crate) const CONTACTS_SHEET: &str = "sheet-contacts";
/// The channel polled in workflow 3.
pub(crate) const DEPLOY_CHANNEL: &str = "#deployments";
/// How the completion message starts.
pub(crate) const DEPLOY_DONE: &str = "Deployment complete";
/// How many messages of `#deployments` each poll asks for.
pub(crate) const POLL_LIMIT: u64 = 5;
/// Polls after which both ways give up on workflow 3.
pub(crate) const MAX_POLLS: u64 = 50;
/// The engagement score from which a lead is messaged in workflow 5.
pub(crate) const ENGAGED_SCORE: u64 = 90;

/// One of the five workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workflow {
    /// 1. Read the meeting transcript and write it into the CRM's `SalesMeeting` notes.
    TranscriptToCrm,
    /// 2. Count and total the pending orders of the orders sheet, with 5 sample rows.
    PendingOrders,
    /// 3. Poll `#deployments` until the completion message appears.
    WaitForDeployment,
    /// 4. Import every row of the contacts sheet as a CRM lead.
    ContactsToLeads,
    /// 5. Message every lead with `EngagementScore >= 90`.
    MessageEngagedLeads,
}

impl Workflow {
    /// All five, in order.
    pub const ALL: [Workflow; 5] = [
        Workflow::TranscriptToCrm,
        Workflow::PendingOrders,
        Workflow::WaitForDeployment,
        Workflow::ContactsToLeads,
        Workflow::MessageEngagedLeads,
    ];

    /// 1 to 5, as in `docs/demo.md`.
    pub fn number(self) -> usize {
        match self {
            Workflow::TranscriptToCrm => 1,
            Workflow::PendingOrders => 2,
            Workflow::WaitForDeployment => 3,
            Workflow::ContactsToLeads => 4,
            Workflow::MessageEngagedLeads => 5,
        }
    }

    /// The name used on the command line and in JSON, e.g. `pending-orders`.
    pub fn name(self) -> &'static str {
        match self {
            Workflow::TranscriptToCrm => "transcript-to-crm",
            Workflow::PendingOrders => "pending-orders",
            Workflow::WaitForDeployment => "wait-for-deployment",
            Workflow::ContactsToLeads => "contacts-to-leads",
            Workflow::MessageEngagedLeads => "message-engaged-leads",
        }
    }

    /// The title of `docs/demo.md`.
    pub fn title(self) -> &'static str {
        match self {
            Workflow::TranscriptToCrm => "Transcript to CRM",
            Workflow::PendingOrders => "Pending orders",
            Workflow::WaitForDeployment => "Wait for deployment",
            Workflow::ContactsToLeads => "Contacts to leads",
            Workflow::MessageEngagedLeads => "Message engaged leads",
        }
    }

    /// The user's task, the same both ways (it is part of both contexts).
    pub fn task(self) -> &'static str {
        match self {
            Workflow::TranscriptToCrm => {
                "Read the Q4 planning meeting transcript (document doc-meeting-transcript) and save its full text, unchanged, as the Notes of the SalesMeeting record a0M000000000001 in the CRM."
            }
            Workflow::PendingOrders => {
                "From the orders sheet (sheet-orders), tell me how many orders are pending and their total amount, and show 5 of the pending orders as examples."
            }
            Workflow::WaitForDeployment => {
                "Watch #deployments (5 latest messages at a time) until its latest message says \"Deployment complete\", then tell me what it says."
            }
            Workflow::ContactsToLeads => {
                "Import every row of the contacts sheet (sheet-contacts) into the CRM as a Lead, with Name, Email, Phone, Company and Title taken from the row."
            }
            Workflow::MessageEngagedLeads => {
                "Find the CRM leads with an EngagementScore of 90 or more and send each one a direct chat message on the channel @<their email before the @>, saying exactly: \"Hi <first name>, thanks for your interest in Sluice. Could we book 20 minutes this week to talk about <Company>'s plans?\""
            }
        }
    }

    /// The code the agent writes for this workflow in `language`: the checked-in script under
    /// `scripts/` without its header comment, which is there for readers of this repository, not
    /// written by the agent.
    pub fn script(self, language: ScriptLanguage) -> &'static str {
        let comment = language.comment();
        let mut rest = self.script_file(language);
        while let Some(line_end) = rest.find('\n') {
            if !rest.starts_with(comment) {
                break;
            }
            rest = &rest[line_end + 1..];
        }
        rest
    }

    /// The checked-in script in `language`, header comment included.
    pub fn script_file(self, language: ScriptLanguage) -> &'static str {
        match (language, self) {
            (ScriptLanguage::TypeScript, Workflow::TranscriptToCrm) => {
                include_str!("../scripts/transcript-to-crm.ts")
            }
            (ScriptLanguage::TypeScript, Workflow::PendingOrders) => {
                include_str!("../scripts/pending-orders.ts")
            }
            (ScriptLanguage::TypeScript, Workflow::WaitForDeployment) => {
                include_str!("../scripts/wait-for-deployment.ts")
            }
            (ScriptLanguage::TypeScript, Workflow::ContactsToLeads) => {
                include_str!("../scripts/contacts-to-leads.ts")
            }
            (ScriptLanguage::TypeScript, Workflow::MessageEngagedLeads) => {
                include_str!("../scripts/message-engaged-leads.ts")
            }
            (ScriptLanguage::Python, Workflow::TranscriptToCrm) => {
                include_str!("../scripts/transcript-to-crm.py")
            }
            (ScriptLanguage::Python, Workflow::PendingOrders) => {
                include_str!("../scripts/pending-orders.py")
            }
            (ScriptLanguage::Python, Workflow::WaitForDeployment) => {
                include_str!("../scripts/wait-for-deployment.py")
            }
            (ScriptLanguage::Python, Workflow::ContactsToLeads) => {
                include_str!("../scripts/contacts-to-leads.py")
            }
            (ScriptLanguage::Python, Workflow::MessageEngagedLeads) => {
                include_str!("../scripts/message-engaged-leads.py")
            }
        }
    }

    /// What the code-mode agent searches for, and the tools it needs to find.
    pub(crate) fn search(self) -> (&'static str, &'static [NeededTool]) {
        const GET_DOCUMENT: NeededTool =
            NeededTool::new("documents", "getDocument", "get_document");
        const GET_SHEET: NeededTool = NeededTool::new("documents", "getSheet", "get_sheet");
        const UPDATE_RECORD: NeededTool = NeededTool::new("crm", "updateRecord", "update_record");
        const CREATE_RECORD: NeededTool = NeededTool::new("crm", "createRecord", "create_record");
        const QUERY: NeededTool = NeededTool::new("crm", "query", "query");
        const HISTORY: NeededTool =
            NeededTool::new("chat", "getChannelHistory", "get_channel_history");
        const SEND_MESSAGE: NeededTool = NeededTool::new("chat", "sendMessage", "send_message");
        match self {
            Workflow::TranscriptToCrm => (
                "get document text, update CRM record",
                &[GET_DOCUMENT, UPDATE_RECORD],
            ),
            Workflow::PendingOrders => ("get sheet rows", &[GET_SHEET]),
            Workflow::WaitForDeployment => ("channel message history", &[HISTORY]),
            Workflow::ContactsToLeads => (
                "get sheet rows, create CRM record",
                &[GET_SHEET, CREATE_RECORD],
            ),
            Workflow::MessageEngagedLeads => (
                "query CRM records, send chat message",
                &[QUERY, SEND_MESSAGE],
            ),
        }
    }
}

/// A tool a workflow's script calls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NeededTool {
    /// The server's name in the config.
    pub(crate) server: &'static str,
    /// The tool's MCP name.
    pub(crate) name: &'static str,
    /// Its name in Sluice's Python API.
    pub(crate) python_name: &'static str,
}

impl NeededTool {
    const fn new(server: &'static str, name: &'static str, python_name: &'static str) -> Self {
        NeededTool {
            server,
            name,
            python_name,
        }
    }

    /// The header line of this tool's signature in a `search_tools` result in `language`.
    pub(crate) fn signature_header(self, language: ScriptLanguage) -> String {
        match language {
            ScriptLanguage::TypeScript => format!("// servers/{}/{}.ts", self.server, self.name),
            ScriptLanguage::Python => {
                format!("# servers/{}/{}.py", self.server, self.python_name)
            }
        }
    }
}

/// The language the code-mode agent writes its scripts in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptLanguage {
    /// TypeScript (`scripts/<workflow>.ts`), Sluice's default.
    #[default]
    TypeScript,
    /// Python on Monty (`scripts/<workflow>.py`).
    Python,
}

impl ScriptLanguage {
    /// Both, TypeScript first.
    pub const ALL: [ScriptLanguage; 2] = [ScriptLanguage::TypeScript, ScriptLanguage::Python];

    /// The name `execute_code`'s and `search_tools`' `language` argument takes.
    pub fn name(self) -> &'static str {
        match self {
            ScriptLanguage::TypeScript => "typescript",
            ScriptLanguage::Python => "python",
        }
    }

    /// How a line comment starts.
    fn comment(self) -> &'static str {
        match self {
            ScriptLanguage::TypeScript => "//",
            ScriptLanguage::Python => "#",
        }
    }

    /// The display name, e.g. in the report's title.
    pub fn title(self) -> &'static str {
        match self {
            ScriptLanguage::TypeScript => "TypeScript",
            ScriptLanguage::Python => "Python",
        }
    }
}

impl fmt::Display for Workflow {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A workflow name or number that is neither.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown workflow \"{0}\": use 1-5 or transcript-to-crm, pending-orders, wait-for-deployment, contacts-to-leads, message-engaged-leads"
)]
pub struct UnknownWorkflow(pub String);

impl FromStr for Workflow {
    type Err = UnknownWorkflow;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        Workflow::ALL
            .into_iter()
            .find(|workflow| workflow.name() == wanted || workflow.number().to_string() == wanted)
            .ok_or_else(|| UnknownWorkflow(text.to_owned()))
    }
}

/// The message workflow 5 sends to a lead (the task spells it out; the script builds the same).
pub(crate) fn engaged_lead_message(name: &str, company: &str) -> String {
    let first = name.split(' ').next().unwrap_or(name);
    format!(
        "Hi {first}, thanks for your interest in Sluice. Could we book 20 minutes this week to talk about {company}'s plans?"
    )
}

/// The direct-message channel of a lead: `@` and the part of the email before the `@`.
pub(crate) fn lead_channel(email: &str) -> String {
    format!("@{}", email.split('@').next().unwrap_or(email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        for workflow in Workflow::ALL {
            assert_eq!(workflow.name().parse::<Workflow>().unwrap(), workflow);
            assert_eq!(
                workflow.number().to_string().parse::<Workflow>().unwrap(),
                workflow
            );
            for language in ScriptLanguage::ALL {
                let script = workflow.script(language);
                let header = format!("{} Workflow {}: ", language.comment(), workflow.number());
                assert!(
                    workflow.script_file(language).starts_with(&header),
                    "{language:?} {workflow}"
                );
                assert!(
                    script.starts_with("import ") || script.starts_with("from "),
                    "{script}"
                );
            }
        }
        assert!("6".parse::<Workflow>().is_err());
    }

    #[test]
    fn messages_and_channels() {
        assert_eq!(lead_channel("ada.lovelace@example.com"), "@ada.lovelace");
        assert!(engaged_lead_message("Ada Lovelace", "Analytical").starts_with("Hi Ada, "));
    }
}
