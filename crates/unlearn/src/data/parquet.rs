//! Parquet reader (the `parquet` feature): the same roles as the CSV reader, read from
//! typed columns instead of text.
//!
//! Column roles follow [`CsvOptions`]: the optional id column (text or integers) gives the
//! row ids (else rows are numbered `"0"`, `"1"`, … in file order); the optional target
//! column (text, numbers or booleans) is encoded per [`super::TargetSpec`], its values
//! spelled as the CSV reader would read them (`1.0` as `1`, so a label means the same in
//! both formats); the [`CsvOptions::ignore`]d columns are not read at all (only the
//! columns in use are decoded); every other column is a feature. A feature is either
//!
//! * a numeric column (Float64, Float32 or an integer type; integers beyond 2⁵³ round to
//!   the nearest f64), one feature per column, named after it; or
//! * a FixedSizeList of numbers, k features in one column `x`, named `x[0]` … `x[k-1]`
//!   (the shape numpy and Arrow give a matrix).
//!
//! [`CsvOptions::features`] (a stored model's names) selects exactly those features, in
//! that order. Nulls, NaN and infinities are refused. Errors name the file, the column, the
//! row group (0-based) and the row of the file (1-based); where a message would give a
//! line of a text file (a target label's), it gives that row.
//!
//! The dense size (rows × features, from the file's metadata) is checked against
//! [`super::libsvm::MAX_DENSE_VALUES`] before anything is allocated. Codecs other than
//! Snappy and uncompressed are not built in (see Cargo.toml); such a file is refused with
//! the Parquet reader's message naming the codec.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::columns::Header;
use super::csv::CsvOptions;
use super::libsvm::MAX_DENSE_VALUES;
use super::targets::{RawTarget, encode_targets};
use super::text::{MAX_COLUMNS, io_error, shorten};
use super::{DataError, Dataset, Declared};

/// Where one feature's values come from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Source {
    /// The top-level column.
    column: usize,
    /// The element of a FixedSizeList column, or `None` for a numeric column.
    element: Option<usize>,
}

/// Reads a Parquet file (see the module docs).
pub fn read_parquet(path: &Path, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| io_error(&name, e))?;
    let parquet_error = |e: parquet::errors::ParquetError| DataError::Parquet {
        file: name.clone(),
        message: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let schema = builder.schema().clone();
    let layout = Layout::resolve(&name, schema.fields().iter().map(|f| f.as_ref()), opts)?;
    let metadata = builder.metadata().clone();
    let n_rows = usize::try_from(metadata.file_metadata().num_rows()).unwrap_or(usize::MAX);
    let d = layout.features.len();
    if n_rows
        .checked_mul(d)
        .is_none_or(|cells| cells > MAX_DENSE_VALUES)
    {
        return Err(DataError::TooLarge {
            file: name,
            rows: n_rows,
            columns: d,
            limit: MAX_DENSE_VALUES,
        });
    }
    if n_rows == 0 {
        return Err(DataError::Empty {
            file: name,
            what: "no data rows",
        });
    }
    // Row group boundaries, to say where a bad value sits.
    let mut row_group_ends = Vec::with_capacity(metadata.num_row_groups());
    let mut end = 0usize;
    for group in metadata.row_groups() {
        end += usize::try_from(group.num_rows()).unwrap_or(0);
        row_group_ends.push(end);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), layout.used_columns());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(parquet_error)?;
    let mut rows = Rows {
        file: &name,
        layout: &layout,
        row_group_ends,
        ids: Vec::with_capacity(n_rows),
        first_seen: HashMap::new(),
        features: Vec::with_capacity(n_rows * d),
        targets: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(|e| DataError::Parquet {
            file: name.clone(),
            message: e.to_string(),
        })?;
        rows.push_batch(&batch)?;
    }
    rows.finish(opts)
}

/// The columns of the file and the role of each, resolved from the schema.
struct Layout {
    /// Top-level column names, in file order.
    names: Vec<String>,
    id: Option<usize>,
    target: Option<usize>,
    /// Where each feature comes from, in feature order, with its name.
    features: Vec<(Source, String)>,
}

/// What a column can be used for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// One number per row.
    Number,
    /// A fixed-size list of numbers (width).
    Vector(usize),
    /// Text.
    Text,
    /// True or false.
    Boolean,
    /// Anything else (dates, structs, binary, …).
    Other,
}

fn is_number(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float64
            | DataType::Float32
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

fn kind(t: &DataType) -> Kind {
    match t {
        t if is_number(t) => Kind::Number,
        DataType::FixedSizeList(item, width) if is_number(item.data_type()) => {
            Kind::Vector(usize::try_from(*width).unwrap_or(0))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Boolean => Kind::Boolean,
        _ => Kind::Other,
    }
}

impl Layout {
    fn resolve<'f>(
        file: &str,
        fields: impl Iterator<Item = &'f Field>,
        opts: &CsvOptions,
    ) -> Result<Self, DataError> {
        let fields: Vec<&Field> = fields.collect();
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let kinds: Vec<Kind> = fields.iter().map(|f| kind(f.data_type())).collect();
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for name in &names {
            if !seen.insert(name.as_str()) {
                return Err(DataError::Parquet {
                    file: file.to_string(),
                    message: format!("two columns are named \"{}\"", shorten(name)),
                });
            }
        }
        let header = Header::new(file, &names);
        let type_error = |k: usize, expected: &str| DataError::Parquet {
            file: file.to_string(),
            message: format!(
                "column \"{}\" has type {}; {expected}",
                shorten(&names[k]),
                fields[k].data_type()
            ),
        };
        let roles = header.roles(opts)?;
        if let Some(k) = roles
            .id
            .filter(|&k| !matches!(kinds[k], Kind::Text) && !is_integer(fields[k]))
        {
            return Err(type_error(k, "an id column holds text or integers"));
        }
        if let Some(k) = roles
            .target
            .filter(|&k| !matches!(kinds[k], Kind::Number | Kind::Text | Kind::Boolean))
        {
            return Err(type_error(
                k,
                "a target column holds numbers, text or booleans",
            ));
        }
        // Every feature the file offers, by name.
        let mut offered: Vec<(Source, String)> = Vec::new();
        for (k, name) in names.iter().enumerate() {
            match kinds[k] {
                Kind::Number => offered.push((
                    Source {
                        column: k,
                        element: None,
                    },
                    name.clone(),
                )),
                Kind::Vector(width) => {
                    if width > MAX_COLUMNS {
                        return Err(DataError::Parquet {
                            file: file.to_string(),
                            message: format!(
                                "column \"{}\" holds lists of {width} values; the reader \
                                 accepts at most {MAX_COLUMNS} features",
                                shorten(name)
                            ),
                        });
                    }
                    offered.extend((0..width).map(|e| {
                        (
                            Source {
                                column: k,
                                element: Some(e),
                            },
                            format!("{name}[{e}]"),
                        )
                    }));
                }
                _ => {}
            }
        }
        let features = match &opts.features {
            Some(wanted) => {
                let by_name: HashMap<&str, Source> =
                    offered.iter().map(|(s, n)| (n.as_str(), *s)).collect();
                let mut chosen = Vec::with_capacity(wanted.len());
                for name in wanted {
                    let Some(&source) = by_name.get(name.as_str()) else {
                        let k = header.find(name, "feature")?;
                        return Err(type_error(k, "a feature column holds numbers"));
                    };
                    header.check_feature(source.column, &roles)?;
                    chosen.push((source, name.clone()));
                }
                chosen
            }
            None => {
                if let Some(k) = (0..names.len()).find(|&k| {
                    !roles.taken(k) && !matches!(kinds[k], Kind::Number | Kind::Vector(_))
                }) {
                    return Err(type_error(
                        k,
                        "a feature column holds numbers or fixed-size lists of numbers; \
                         ignore the column if it is not a feature",
                    ));
                }
                offered
                    .into_iter()
                    .filter(|(s, _)| !roles.taken(s.column))
                    .collect()
            }
        };
        Ok(Self {
            names,
            id: roles.id,
            target: roles.target,
            features,
        })
    }

    /// The top-level columns that are read.
    fn used_columns(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self.features.iter().map(|(s, _)| s.column).collect();
        used.extend(self.id);
        used.extend(self.target);
        used.sort_unstable();
        used.dedup();
        used
    }
}

fn is_integer(field: &Field) -> bool {
    is_number(field.data_type())
        && !matches!(field.data_type(), DataType::Float64 | DataType::Float32)
}

/// The values of a numeric array as f64 (null slots hold whatever the array stores there);
/// `None` for a type that is not a number.
fn numbers(array: &dyn Array) -> Option<Vec<f64>> {
    macro_rules! convert {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() {
                return Some(a.values().iter().map(|&v| v as f64).collect());
            })*
        };
    }
    convert!(
        Float64Type,
        Float32Type,
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type
    );
    None
}

/// Row `i` of a text, number or boolean array, spelled as a CSV cell would be; `None` if
/// the value is null.
fn cell_text(array: &dyn Array, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    if let Some(a) = array.as_string_opt::<i32>() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_string_opt::<i64>() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_string_view_opt() {
        return Some(a.value(i).to_string());
    }
    if let Some(a) = array.as_boolean_opt() {
        return Some(a.value(i).to_string());
    }
    macro_rules! integer {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() {
                return Some(a.value(i).to_string());
            })*
        };
    }
    integer!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    // Floats: Rust's shortest round-trip spelling, which the CSV reader parses back to the
    // same f64 (and which names 1.0 as "1", like canonical labels).
    if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        return Some(a.value(i).to_string());
    }
    array
        .as_primitive_opt::<Float32Type>()
        .map(|a| f64::from(a.value(i)).to_string())
}

/// The rows read so far.
struct Rows<'a> {
    file: &'a str,
    layout: &'a Layout,
    /// Cumulative row counts of the row groups.
    row_group_ends: Vec<usize>,
    ids: Vec<String>,
    /// Row where each id was first seen (1-based).
    first_seen: HashMap<String, usize>,
    features: Vec<f64>,
    targets: Vec<RawTarget>,
}

impl Rows<'_> {
    /// A value error at 0-based file row `row`.
    fn value_error(&self, row: usize, column: String, reason: String) -> DataError {
        DataError::ParquetValue {
            file: self.file.to_string(),
            row_group: self.row_group_ends.partition_point(|&end| end <= row),
            row: row + 1,
            column,
            reason,
        }
    }

    fn push_batch(&mut self, batch: &RecordBatch) -> Result<(), DataError> {
        let first = self.ids.len();
        let n = batch.num_rows();
        let layout = self.layout;
        let d = layout.features.len();
        let column = |k: usize| {
            batch
                .column_by_name(&layout.names[k])
                .expect("the projection keeps every column in use")
        };
        let start = self.features.len();
        self.features.resize(start + n * d, 0.0);
        // Each column's values converted once per batch (a list column feeds k features).
        let mut converted: HashMap<usize, Vec<f64>> = HashMap::new();
        for (j, (source, name)) in layout.features.iter().enumerate() {
            let array = column(source.column);
            let list = source.element.map(|_| array.as_fixed_size_list());
            let values_array: &dyn Array = match list {
                Some(list) => list.values().as_ref(),
                None => array.as_ref(),
            };
            let values = converted
                .entry(source.column)
                .or_insert_with(|| numbers(values_array).expect("checked numeric"));
            for i in 0..n {
                let at = match (list, source.element) {
                    (Some(list), Some(e)) => {
                        if list.is_null(i) {
                            return Err(self.value_error(
                                first + i,
                                name.clone(),
                                "missing value (null list); fill it in or remove the row".into(),
                            ));
                        }
                        list.value_offset_at(i) + e
                    }
                    _ => i,
                };
                if values_array.is_null(at) {
                    return Err(self.value_error(
                        first + i,
                        name.clone(),
                        "missing value (null); fill it in or remove the row".into(),
                    ));
                }
                let v = values[at];
                if !v.is_finite() {
                    return Err(self.value_error(
                        first + i,
                        name.clone(),
                        format!("the value {v} is not a finite number"),
                    ));
                }
                self.features[start + i * d + j] = v;
            }
        }
        if let Some(k) = layout.target {
            let array = column(k);
            for i in 0..n {
                let label = cell_text(array.as_ref(), i).ok_or_else(|| {
                    self.value_error(
                        first + i,
                        layout.names[k].clone(),
                        "missing target (null); fill it in or remove the row".into(),
                    )
                })?;
                self.targets.push((first + i + 1, label));
            }
        }
        for i in 0..n {
            let id = match layout.id {
                Some(k) => self.checked_id(first + i, k, cell_text(column(k).as_ref(), i))?,
                None => (first + i).to_string(),
            };
            self.ids.push(id);
        }
        Ok(())
    }

    /// Checks that an id is present and not seen before.
    fn checked_id(
        &mut self,
        row: usize,
        k: usize,
        id: Option<String>,
    ) -> Result<String, DataError> {
        let column = self.layout.names[k].clone();
        let id = match id {
            Some(id) if !id.is_empty() => id,
            _ => {
                return Err(self.value_error(
                    row,
                    column,
                    "missing id; every row needs one".into(),
                ));
            }
        };
        if let Some(&first) = self.first_seen.get(&id) {
            return Err(self.value_error(
                row,
                column,
                format!("duplicate id \"{}\" (first at row {first})", shorten(&id)),
            ));
        }
        self.first_seen.insert(id.clone(), row + 1);
        Ok(id)
    }

    fn finish(self, opts: &CsvOptions) -> Result<Dataset, DataError> {
        let targets = match self.layout.target {
            Some(k) => encode_targets(self.file, &self.layout.names[k], &self.targets, &opts.spec)?,
            None => None,
        };
        let names = self
            .layout
            .features
            .iter()
            .map(|(_, n)| n.clone())
            .collect();
        let declared = Declared {
            classes: opts.spec.declares_classes(),
            features: true,
        };
        Ok(Dataset::new(self.ids, names, self.features, targets)?.with_declared(declared))
    }
}
