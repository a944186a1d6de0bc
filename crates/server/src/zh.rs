//! Chinese words for what the exports print: statuses, intake decisions, deadline colours. The
//! same words as the app's `locales/zh-CN.json` (`status.*`, `outcome.*`, `channel.*`,
//! `deadline.*`), which the server does not read; kept short where the app's are longer (an
//! intake decision is the start of the app's words, and a refusal names its channel where the
//! app says "其他途径"). The tests below compare them with the app's file.

use liaison_domain::followup::{DeadlineColour, StatusKind};
use liaison_domain::{Outcome, RedirectChannel};

pub fn status(status: StatusKind) -> &'static str {
    match status {
        StatusKind::Registered => "已登记（待处理）",
        StatusKind::AnsweredOnSpot => "已现场答复",
        StatusKind::HandledByDeputy => "代表自行办理中",
        StatusKind::Referred => "已交办（待签收）",
        StatusKind::Returned => "已退回（待重新交办）",
        StatusKind::InProgress => "承办单位办理中",
        StatusKind::ConvertedToSuggestion => "已转为代表建议",
        StatusKind::NotAccepted => "不予受理",
        StatusKind::Concluded => "已办结",
        StatusKind::FedBack => "已反馈（待评价）",
        StatusKind::Evaluated => "已评价",
        StatusKind::Reopened => "重办",
        StatusKind::Archived => "已归档",
    }
}

pub fn channel(channel: RedirectChannel) -> &'static str {
    match channel {
        RedirectChannel::Litigation => "诉讼",
        RedirectChannel::Arbitration => "仲裁",
        RedirectChannel::AdministrativeReview => "行政复议",
        RedirectChannel::Petition => "信访",
        RedirectChannel::Hotline12345 => "12345热线",
    }
}

/// The intake decision (处理方式), with the channel the citizen was told of when not accepted.
pub fn outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::AnsweredOnSpot => "现场答复".to_owned(),
        Outcome::ToBeReferred => "拟转交办理".to_owned(),
        Outcome::HandledByDeputy => "代表自行办理".to_owned(),
        Outcome::NotAccepted { channel: c } => format!("不予受理（告知：{}）", channel(*c)),
    }
}

pub fn colour(colour: DeadlineColour) -> &'static str {
    match colour {
        DeadlineColour::OnTime => "正常（绿）",
        DeadlineColour::DueSoon => "临期（黄）",
        DeadlineColour::Overdue => "超期（红）",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liaison_domain::OutcomeKind;

    /// The app's Chinese words: one flat object of `"key": "text"`.
    fn app_word(key: &str) -> String {
        static APP: std::sync::LazyLock<serde_json::Map<String, serde_json::Value>> =
            std::sync::LazyLock::new(|| {
                serde_json::from_str(include_str!("../../../locales/zh-CN.json"))
                    .expect("locales/zh-CN.json is a JSON object")
            });
        APP.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("locales/zh-CN.json has no text for {key}"))
            .to_owned()
    }

    /// `DeadlineColour` has no `ALL`: listed here, and the match makes a new colour a compile
    /// error until it is listed (and so compared).
    const COLOURS: [DeadlineColour; 3] = [
        DeadlineColour::OnTime,
        DeadlineColour::DueSoon,
        DeadlineColour::Overdue,
    ];

    #[test]
    fn every_colour_is_listed() {
        let position = |c: DeadlineColour| match c {
            DeadlineColour::OnTime => 0,
            DeadlineColour::DueSoon => 1,
            DeadlineColour::Overdue => 2,
        };
        for (i, c) in COLOURS.into_iter().enumerate() {
            assert_eq!(position(c), i, "{c:?}");
        }
    }

    /// One `Outcome` per kind; a refusal with every channel.
    fn outcomes() -> Vec<Outcome> {
        OutcomeKind::ALL
            .into_iter()
            .flat_map(|kind| match kind {
                OutcomeKind::AnsweredOnSpot => vec![Outcome::AnsweredOnSpot],
                OutcomeKind::ToBeReferred => vec![Outcome::ToBeReferred],
                OutcomeKind::HandledByDeputy => vec![Outcome::HandledByDeputy],
                OutcomeKind::NotAccepted => RedirectChannel::ALL
                    .into_iter()
                    .map(|channel| Outcome::NotAccepted { channel })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn statuses_are_the_apps_words() {
        for s in StatusKind::ALL {
            assert_eq!(
                status(s),
                app_word(&format!("status.{}", s.code())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn channels_are_the_apps_words() {
        for c in RedirectChannel::ALL {
            assert_eq!(
                channel(c),
                app_word(&format!("channel.{}", c.code())),
                "{c:?}"
            );
        }
    }

    #[test]
    fn colours_are_the_apps_words() {
        for c in COLOURS {
            assert_eq!(
                colour(c),
                app_word(&format!("deadline.{}", c.code())),
                "{c:?}"
            );
        }
    }

    /// An export's cell is short: the app's decision up to its explanation in brackets (and
    /// "现场答复解决" kept as "现场答复"); a refusal names the channel told, in the app's word for it.
    #[test]
    fn outcomes_are_the_start_of_the_apps_words() {
        for o in outcomes() {
            let ours = outcome(&o);
            let app = app_word(&format!("outcome.{}", o.kind().code()));
            match o {
                Outcome::NotAccepted { channel: c } => {
                    let (word, rest) = app.split_once('（').expect("a refusal explains itself");
                    assert!(rest.starts_with("告知"), "{app}");
                    let told = app_word(&format!("channel.{}", c.code()));
                    assert_eq!(ours, format!("{word}（告知：{told}）"), "{o:?}");
                }
                _ => assert!(
                    app.starts_with(&ours),
                    "{o:?}: {ours} is not the start of {app}"
                ),
            }
        }
    }

    #[test]
    fn every_status_has_its_own_word() {
        let words: std::collections::BTreeSet<_> =
            StatusKind::ALL.into_iter().map(status).collect();
        assert_eq!(words.len(), StatusKind::ALL.len());
    }
}
