import pytest
from openpyxl import Workbook

from customers.imports.parsing import FileFormatError, ReadOptions, table_read


def test_csv_gbk_detected(write_csv):
    path = write_csv("gbk.csv", "客户号,姓名,网点\n00012,张三,BA\n00013,李四,BB\n", encoding="gbk")
    table = table_read(path=path)
    assert table.encoding == "gb18030"
    assert table.headers == ["客户号", "姓名", "网点"]
    assert table.rows[0].values == ["00012", "张三", "BA"]
    assert table.rows[1].number == 3


def test_csv_utf8_bom_stripped(write_csv):
    path = write_csv("bom.csv", "\ufeff客户号,姓名\n001,王五\n")
    table = table_read(path=path)
    assert table.encoding == "utf-8-sig"
    assert table.headers == ["客户号", "姓名"]
    assert table.rows[0].values == ["001", "王五"]


def test_csv_semicolon_detected(write_csv):
    path = write_csv("semi.csv", 'customer_no;name;aum\nC1;Ann;"1,200.50"\nC2;Bob;3\n')
    table = table_read(path=path)
    assert table.delimiter == ";"
    assert table.rows[0].values == ["C1", "Ann", "1,200.50"]


def test_csv_tab_detected(write_csv):
    path = write_csv("tab.csv", "customer_no\tname\nC1\tAnn\nC2\tBob\n")
    table = table_read(path=path)
    assert table.delimiter == "\t"
    assert table.rows[1].values == ["C2", "Bob"]


def test_csv_quoted_delimiter_kept(write_csv):
    path = write_csv("quoted.csv", 'customer_no,name,aum\nC1,"Li, Ming","1,234,567.00"\n')
    table = table_read(path=path)
    assert table.delimiter == ","
    assert table.rows[0].values == ["C1", "Li, Ming", "1,234,567.00"]


def test_csv_delimiter_override(write_csv):
    # Every line has as many commas as semicolons, so only the override makes ";" win.
    path = write_csv("override.csv", "a,x;b,y\n1,2;3,4\n")
    table = table_read(path=path, options=ReadOptions(delimiter=";"))
    assert table.delimiter == ";"
    assert table.headers == ["a,x", "b,y"]
    assert table.rows[0].values == ["1,2", "3,4"]


def test_csv_invalid_delimiter_rejected(write_csv):
    path = write_csv("bad.csv", "a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="Invalid delimiter"):
        table_read(path=path, options=ReadOptions(delimiter="|"))


def test_csv_blank_rows_skipped_numbers_kept(write_csv):
    path = write_csv("blank.csv", "customer_no,name\n\nC1,Ann\n ,  \nC2,Bob\n")
    table = table_read(path=path)
    assert [row.number for row in table.rows] == [3, 5]


def test_csv_multiline_record_numbering(write_csv):
    path = write_csv("multi.csv", 'customer_no,note\nC1,"line one\nline two"\nC2,plain\n')
    table = table_read(path=path)
    assert [row.number for row in table.rows] == [2, 4]
    assert table.rows[0].values[1] == "line one\nline two"


def test_csv_field_count_errors(write_csv):
    path = write_csv("count.csv", "customer_no,name\nC1,Ann,extra\nC2\nC3,Cid\n")
    table = table_read(path=path)
    assert "3 fields" in str(table.rows[0].field_count_error)
    assert "1 fields" in str(table.rows[1].field_count_error)
    assert table.rows[2].field_count_error is None


def test_csv_empty_file_rejected(write_csv):
    path = write_csv("empty.csv", "\n\n")
    with pytest.raises(FileFormatError, match="no header"):
        table_read(path=path)


def test_csv_duplicate_header_rejected(write_csv):
    path = write_csv("dup.csv", "customer_no,name,name\nC1,a,b\n")
    with pytest.raises(FileFormatError, match="appears twice"):
        table_read(path=path)


def test_xls_rejected_with_advice(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(FileFormatError, match="xlsx"):
        table_read(path=path)


def xlsx_write(path, rows, title="Roster", extra_sheet=None):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        other = workbook.create_sheet(extra_sheet[0])
        for row in extra_sheet[1]:
            other.append(row)
    workbook.save(path)
    return path


def test_xlsx_cells_read_as_text(tmp_path):
    import datetime

    path = xlsx_write(
        tmp_path / "roster.xlsx",
        [
            ["客户号", "姓名", "资产", "出生日期", "年龄"],
            ["000123", "张三", 1234567.5, datetime.datetime(1980, 5, 17), 44],
            [None, None, None, None, None],
            ["6222020200112233445", "李四", "2,000,000", None, 51.0],
        ],
    )
    table = table_read(path=path)
    assert table.sheet == "Roster"
    assert table.rows[0].values == ["000123", "张三", "1234567.5", "1980-05-17", "44"]
    assert table.rows[1].number == 4
    assert table.rows[1].values == ["6222020200112233445", "李四", "2,000,000", "", "51"]


def test_xlsx_sheet_chosen_by_name(tmp_path):
    path = xlsx_write(
        tmp_path / "two.xlsx", [["ignored"], ["x"]], extra_sheet=("Data", [["customer_no"], ["C9"]])
    )
    table = table_read(path=path, options=ReadOptions(sheet="Data"))
    assert table.headers == ["customer_no"]
    assert table.rows[0].values == ["C9"]


def test_xlsx_unknown_sheet_rejected(tmp_path):
    path = xlsx_write(tmp_path / "one.xlsx", [["customer_no"], ["C1"]])
    with pytest.raises(FileFormatError, match="Missing"):
        table_read(path=path, options=ReadOptions(sheet="Missing"))


def test_xlsx_extra_cells_are_row_error(tmp_path):
    path = xlsx_write(tmp_path / "wide.xlsx", [["customer_no", "name"], ["C1", "Ann", "stray"], ["C2"]])
    table = table_read(path=path)
    assert "3 fields" in str(table.rows[0].field_count_error)
    assert table.rows[1].values == ["C2", ""]


def test_xlsx_damaged_file_rejected(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(FileFormatError, match="not a readable XLSX"):
        table_read(path=path)


def test_csv_header_without_rows_rejected(write_csv):
    path = write_csv("header.csv", "customer_no,name\n\n")
    with pytest.raises(FileFormatError, match="has a header row but no data rows"):
        table_read(path=path)


def test_xlsx_header_without_rows_rejected(tmp_path):
    path = xlsx_write(tmp_path / "header.xlsx", [["customer_no", "name"], [None, None]])
    with pytest.raises(FileFormatError, match="has a header row but no data rows"):
        table_read(path=path)
