//! Categories of opinions. The list is configuration, not code: it is data with a label in each
//! language, so a region can add everyday topics without a new release. The default list holds
//! the four speciality areas of the deputies' groups and common everyday topics.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable code stored with each opinion and used in statistics.
    pub code: String,
    /// Label in Chinese.
    pub zh: String,
    /// Label in English.
    pub en: String,
    /// True for the four speciality areas, false for everyday topics.
    pub speciality: bool,
}

impl Category {
    pub fn label(&self, english: bool) -> &str {
        if english { &self.en } else { &self.zh }
    }
}

/// The list used until a region configures its own.
pub fn default_categories() -> Vec<Category> {
    const LIST: &[(&str, &str, &str, bool)] = &[
        (
            "economic_development",
            "经济发展",
            "Economic development",
            true,
        ),
        ("urban_management", "城市管理", "Urban management", true),
        (
            "social_construction",
            "社会建设",
            "Social construction",
            true,
        ),
        ("rule_of_law", "法治司法", "Rule of law and justice", true),
        ("parking", "停车难", "Parking", false),
        (
            "property_management",
            "物业管理",
            "Property management",
            false,
        ),
        (
            "old_building_elevators",
            "老旧小区加装电梯",
            "Elevators in old buildings",
            false,
        ),
        ("roads_lighting", "道路与照明", "Roads and lighting", false),
        ("elderly_subsidies", "养老补贴", "Elderly subsidies", false),
        ("other", "其他", "Other", false),
    ];
    LIST.iter()
        .map(|&(code, zh, en, speciality)| Category {
            code: code.into(),
            zh: zh.into(),
            en: en.into(),
            speciality,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_has_the_four_speciality_areas_and_unique_codes() {
        let list = default_categories();
        assert_eq!(list.iter().filter(|c| c.speciality).count(), 4);
        let mut codes: Vec<_> = list.iter().map(|c| c.code.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), list.len());
        assert_eq!(list[0].label(false), "经济发展");
        assert_eq!(list[0].label(true), "Economic development");
    }
}
