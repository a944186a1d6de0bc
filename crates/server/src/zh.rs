//! Chinese words for what the exports print: statuses, intake decisions, deadline colours. The
//! same words as the app's `locales/zh-CN.json` (`status.*`, `outcome.*`, `channel.*`,
//! `deadline.*`), which the server does not read; kept short where the app's are sentences.

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

    #[test]
    fn every_status_has_its_own_word() {
        let words: std::collections::BTreeSet<_> =
            StatusKind::ALL.into_iter().map(status).collect();
        assert_eq!(words.len(), StatusKind::ALL.len());
    }
}
